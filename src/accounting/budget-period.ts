// A budget's period (SPEC §10): the span a budget's cap applies to — a day, an ISO week (Monday to
// Monday), a calendar month, or all time — starting at its reset time in its time zone. Computed with
// Intl (no time-zone data of our own); each (zone, period, reset) remembers its current span, so the hot
// path recomputes only when a span ends.

export const BUDGET_PERIODS = ['day', 'week', 'month', 'none'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

/** [start, end) in ms since the epoch; `none` is [0, Infinity). */
export interface PeriodSpan {
  start: number;
  end: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    // Throws a RangeError for a zone Intl does not know: `isTimeZone` checks first.
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether Intl knows the IANA time zone (`UTC`, `Europe/Berlin`, …). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatterOf(timeZone);
    return true;
  } catch {
    return false;
  }
}

interface LocalTime {
  year: number;
  month: number;
  day: number;
  minutes: number;
}

function localTime(at: number, timeZone: string): LocalTime & { second: number } {
  const parts = formatterOf(timeZone).formatToParts(at);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)!.value);
  return { year: get('year'), month: get('month'), day: get('day'), minutes: get('hour') * 60 + get('minute'), second: get('second') };
}

/** How far the zone's wall clock is ahead of UTC at `at` (ms). */
function offsetAt(at: number, timeZone: string): number {
  const t = localTime(at, timeZone);
  const wall = Date.UTC(t.year, t.month - 1, t.day, 0, t.minutes, t.second);
  return wall - Math.floor(at / 1000) * 1000;
}

/**
 * The instant the zone's wall clock reads this local time. Day and month may overflow (Date.UTC
 * normalizes them). A time that a clock change skips (a spring-forward gap) is taken on the offset before
 * the change; one it repeats, at either of its two instants.
 */
function instantOf(year: number, month: number, day: number, minutes: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day, 0, minutes);
  const a = wall - offsetAt(wall, timeZone);
  const b = wall - offsetAt(a, timeZone);
  if (b + offsetAt(b, timeZone) === wall) return b;
  if (a + offsetAt(a, timeZone) === wall) return a;
  return Math.max(a, b);
}

/** The span of `period` (resetting at `resetMinutes` past local midnight in `timeZone`) that holds `now`. */
export function periodSpan(period: BudgetPeriod, resetMinutes: number, timeZone: string, now: number): PeriodSpan {
  if (period === 'none') return { start: 0, end: Infinity };
  const t = localTime(now, timeZone);
  // Work in local calendar dates; Date.UTC(y, m, d) serves as plain date arithmetic.
  const date = new Date(Date.UTC(t.year, t.month - 1, t.day));
  let y = date.getUTCFullYear();
  let m = date.getUTCMonth() + 1;
  let d = date.getUTCDate();
  const step = (delta: number): [number, number, number] => {
    if (period === 'day') return [y, m, d + delta];
    if (period === 'week') return [y, m, d + 7 * delta];
    return [y, m + delta, 1];
  };
  if (period === 'week') d -= (date.getUTCDay() + 6) % 7; // back to Monday
  if (period === 'month') d = 1;
  let start = instantOf(y, m, d, resetMinutes, timeZone);
  if (start > now) {
    [y, m, d] = step(-1);
    start = instantOf(y, m, d, resetMinutes, timeZone);
  }
  const [ny, nm, nd] = step(1);
  return { start, end: instantOf(ny, nm, nd, resetMinutes, timeZone) };
}

const spans = new Map<string, PeriodSpan>();

/** `periodSpan`, remembered per (period, reset, zone) until it ends: the admission's path. */
export function currentSpan(period: BudgetPeriod, resetMinutes: number, timeZone: string, now: number): PeriodSpan {
  const key = `${period}|${resetMinutes}|${timeZone}`;
  let span = spans.get(key);
  if (span === undefined || now >= span.end || now < span.start) {
    span = periodSpan(period, resetMinutes, timeZone, now);
    if (spans.size > 10_000) spans.clear();
    spans.set(key, span);
  }
  return span;
}

/** `HH:MM` (00:00–23:59) as minutes past midnight, or undefined. */
export function parseResetTime(text: string): number | undefined {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return match ? Number(match[1]) * 60 + Number(match[2]) : undefined;
}

export function formatResetTime(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}
