// Times and durations as the admin API and CLI take them: unix seconds (to the millisecond) or ISO 8601
// with a time zone, and durations like `30d`; all become integer milliseconds since the epoch, which is
// what the store keeps. In JSON, times go out as unix seconds (see admin/views.ts).

/** A time or duration that cannot be read. */
export class TimeFormatError extends Error {
  override name = 'TimeFormatError';
}

const DURATION_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90m`, `12h`, `30d` (also `s`, `w`) → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  if (!match || Number(match[1]) === 0) throw new TimeFormatError(`bad duration ${JSON.stringify(text)}: expected a positive number and a unit, like 90m, 12h or 30d`);
  return Number(match[1]) * DURATION_UNITS_MS[match[2]];
}

const UNIX_SECONDS = /^(\d{1,11})(?:\.(\d{1,3}))?$/;
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):?(\d{2})))?$/i;

/**
 * Unix seconds (`1735689600`, or `1735689600.123` to the millisecond) or ISO 8601 — a date
 * (`2025-01-01`, midnight UTC) or a date and time with its zone (`2025-01-01T12:00:00Z`,
 * `…+02:00`) — as milliseconds since the epoch. A time without a zone is refused, not guessed.
 */
export function parseTimestamp(text: string): number {
  const unix = UNIX_SECONDS.exec(text);
  if (unix) return Number(unix[1]) * 1000 + Number((unix[2] ?? '').padEnd(3, '0'));
  const iso = ISO_8601.exec(text);
  if (!iso) {
    const zoneless = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/i.test(text);
    throw new TimeFormatError(
      zoneless
        ? `needs a time zone (Z or ±hh:mm); got ${JSON.stringify(text)}`
        : `must be unix seconds or an ISO 8601 time like 2025-01-31T12:00:00Z; got ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`,
    );
  }
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(iso[i] ?? 0));
  const ms = Number((iso[7] ?? '').slice(0, 3).padEnd(3, '0'));
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const check = new Date(utc);
  // Date.UTC rolls 2025-02-30 over to March: a date that does not exist is an error, not a neighbour.
  if (month < 1 || month > 12 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new TimeFormatError(`is not a valid date and time; got ${JSON.stringify(text)}`);
  }
  const offsetMin = iso[9] === undefined ? 0 : (iso[9] === '-' ? -1 : 1) * (Number(iso[10]) * 60 + Number(iso[11]));
  return utc - offsetMin * 60_000;
}

/** Milliseconds as whole unix seconds (rounded down), the way `*_at` fields go out; null stays null. */
export function unixSeconds(ms: number): number;
export function unixSeconds(ms: number | null): number | null;
export function unixSeconds(ms: number | null): number | null {
  return ms === null ? null : Math.floor(ms / 1000);
}

/** Milliseconds as unix seconds with the milliseconds kept as a fraction (a paging cursor): 1735689600.123. */
export function unixSecondsExact(ms: number): number {
  return ms / 1000;
}
