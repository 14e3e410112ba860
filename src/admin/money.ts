// Money as people write it and as the store keeps it: decimal amounts in currency units ("10.50") to and
// from integer micro-units (10_500_000), exactly — digits are shifted as text, never multiplied as floats.

export const MICROS_PER_UNIT = 1_000_000;
const DECIMALS = 6;

/** An amount that is not a decimal number of currency units with at most six decimal places. */
export class AmountError extends Error {
  override name = 'AmountError';
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?$/;

/**
 * A decimal amount in currency units as integer micro-units: `"10.50"` → 10_500_000, `"-0.000001"` → -1,
 * `10.5` → 10_500_000. Strings must be plain decimals (no exponent, separators or spaces); numbers are
 * read through their shortest decimal form, so `0.1` is exactly 100_000 and `0.1 + 0.2` is refused
 * (17 decimal places) rather than rounded. Trailing zeros past the sixth place are fine.
 */
export function parseAmountMicros(value: string | number): number {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new AmountError(`must be a finite number; got ${String(value)}`);
    text = String(value);
    // Shortest round-trip form: an exponent means more than 6 decimals (1e-7) or far too large (1e21).
    if (/e/i.test(text)) throw new AmountError(`must have at most ${DECIMALS} decimal places and fit in micro-units; got ${text}`);
  } else {
    text = value;
  }
  const match = DECIMAL.exec(text);
  const whole = match?.[2] ?? '';
  const fraction = match?.[3] ?? '';
  if (!match || (whole === '' && fraction === '') || (match[3] !== undefined && fraction === '')) {
    throw new AmountError(`must be a decimal amount like "10.50"; got ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`);
  }
  const significant = fraction.replace(/0+$/, '');
  if (significant.length > DECIMALS) throw new AmountError(`must have at most ${DECIMALS} decimal places (1 micro-unit); got ${text}`);
  const micros = BigInt((whole === '' ? '0' : whole) + significant.padEnd(DECIMALS, '0'));
  if (micros > BigInt(Number.MAX_SAFE_INTEGER)) throw new AmountError(`is too large; got ${text}`);
  const n = Number(micros);
  return match[1] === '-' && n !== 0 ? -n : n;
}

/** Micro-units as a decimal amount: 12500000 → `12.500000`, -1 → `-0.000001`. */
export function formatMicros(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(micros);
  return `${sign}${Math.floor(abs / MICROS_PER_UNIT)}.${String(abs % MICROS_PER_UNIT).padStart(DECIMALS, '0')}`;
}
