// Money and limits are exact or refused (SPEC §16). JSON.parse reads every number as a double, so
// 9007199254740993 arrives as …992 and 999999999.9999991 as 999999999.999999 with nothing to tell; only
// the body's text shows it. This finds the first number in a (valid) JSON text that a double does not
// hold exactly, with the path of its field, so the admin API can refuse it with a 400 naming the field.

/** A decimal as its significant digits and the power of ten of the last one: `-12.50` → {-, "125", -1}. */
interface Decimal {
  negative: boolean;
  digits: string;
  exponent: number;
}

const NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

function decimalOf(text: string): Decimal | undefined {
  const m = NUMBER.exec(text);
  if (!m) return undefined;
  const fraction = m[3] ?? '';
  let digits = (m[2] + fraction).replace(/^0+/, '');
  let exponent = Number(m[4] ?? '0') - fraction.length;
  const trailing = /0*$/.exec(digits)![0].length;
  digits = digits.slice(0, digits.length - trailing);
  exponent += trailing;
  if (digits === '') return { negative: false, digits: '', exponent: 0 };
  return { negative: m[1] === '-', digits, exponent };
}

/** Whether the double JSON.parse makes of `token` is the very number it spells. */
export function isExactNumber(token: string): boolean {
  const written = decimalOf(token);
  if (written === undefined) return false;
  const value = Number(token);
  if (!Number.isFinite(value)) return false;
  // The shortest text that reads back as the same double: equal to the token's value iff nothing was lost.
  const read = decimalOf(String(value).replace('e+', 'e'));
  if (read === undefined) return false;
  if (written.digits === '') return read.digits === '';
  return read.negative === written.negative && read.digits === written.digits && read.exponent === written.exponent;
}

type Frame = { kind: 'object'; key: string | undefined } | { kind: 'array'; index: number };

function pathOf(stack: readonly Frame[]): string | null {
  let path = '';
  for (const frame of stack) {
    if (frame.kind === 'array') path += `[${frame.index}]`;
    else if (frame.key !== undefined) path += path === '' ? frame.key : `.${frame.key}`;
  }
  return path === '' ? null : path;
}

/**
 * The first number of `text` (valid JSON) that would be read inexactly, with its field's path (like
 * `limits.requests_per_minute`); undefined when every number is exact.
 */
export function findInexactNumber(text: string): { path: string | null; token: string } | undefined {
  const stack: Frame[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      // A string followed by ':' is an object's key.
      let k = j + 1;
      while (k < text.length && /\s/.test(text[k])) k++;
      if (top?.kind === 'object' && text[k] === ':') top.key = JSON.parse(text.slice(i, j + 1)) as string;
      i = j + 1;
    } else if (c === '{') {
      stack.push({ kind: 'object', key: undefined });
      i++;
    } else if (c === '[') {
      stack.push({ kind: 'array', index: 0 });
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top?.kind === 'array') top.index++;
      i++;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      let j = i + 1;
      while (j < text.length && /[0-9eE+\-.]/.test(text[j])) j++;
      const token = text.slice(i, j);
      if (!isExactNumber(token)) return { path: pathOf(stack), token };
      i = j;
    } else {
      i++;
    }
  }
  return undefined;
}
