import { describe, expect, it } from 'vitest';
import { currentSpan, formatResetTime, isTimeZone, parseResetTime, periodSpan } from '../../src/accounting/budget-period.js';

const iso = (s: { start: number; end: number }) => [new Date(s.start).toISOString(), Number.isFinite(s.end) ? new Date(s.end).toISOString() : 'never'];
const at = (text: string) => Date.parse(text);

describe('budget periods', () => {
  it('days reset at the reset time in the zone', () => {
    expect(iso(periodSpan('day', 0, 'UTC', at('2026-12-06T08:30:00Z')))).toEqual(['2026-12-06T00:00:00.000Z', '2026-12-07T00:00:00.000Z']);
    // Before 10:00 the day that started yesterday at 10:00 still runs.
    expect(iso(periodSpan('day', 600, 'UTC', at('2026-12-06T08:30:00Z')))).toEqual(['2026-12-05T10:00:00.000Z', '2026-12-06T10:00:00.000Z']);
    expect(iso(periodSpan('day', 0, 'Europe/Berlin', at('2026-12-06T08:30:00Z')))).toEqual(['2026-12-05T23:00:00.000Z', '2026-12-06T23:00:00.000Z']);
    expect(iso(periodSpan('day', 0, 'Asia/Kolkata', at('2026-12-06T20:00:00Z')))).toEqual(['2026-12-06T18:30:00.000Z', '2026-12-07T18:30:00.000Z']);
    // The instant of the reset belongs to the new day.
    expect(iso(periodSpan('day', 0, 'UTC', at('2026-12-07T00:00:00Z')))[0]).toBe('2026-12-07T00:00:00.000Z');
  });

  it('weeks run Monday to Monday, months from the 1st', () => {
    // 2026-12-06 is a Sunday.
    expect(iso(periodSpan('week', 0, 'UTC', at('2026-12-06T08:30:00Z')))).toEqual(['2026-11-30T00:00:00.000Z', '2026-12-07T00:00:00.000Z']);
    expect(iso(periodSpan('week', 0, 'UTC', at('2026-12-07T00:00:00Z')))).toEqual(['2026-12-07T00:00:00.000Z', '2026-12-14T00:00:00.000Z']);
    expect(iso(periodSpan('month', 0, 'America/New_York', at('2026-12-06T08:30:00Z')))).toEqual(['2026-12-01T05:00:00.000Z', '2027-01-01T05:00:00.000Z']);
    expect(iso(periodSpan('month', 0, 'UTC', at('2026-12-31T23:59:59Z')))).toEqual(['2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
    // Before the reset time on the 1st, the previous month still runs.
    expect(iso(periodSpan('month', 120, 'UTC', at('2027-01-01T01:00:00Z')))).toEqual(['2026-12-01T02:00:00.000Z', '2027-01-01T02:00:00.000Z']);
    expect(iso(periodSpan('none', 0, 'UTC', at('2026-12-06T08:30:00Z')))).toEqual(['1970-01-01T00:00:00.000Z', 'never']);
  });

  it('days across a clock change are 23 or 25 hours', () => {
    // Berlin springs forward on 2026-03-29 and falls back on 2026-10-25.
    const spring = periodSpan('day', 0, 'Europe/Berlin', at('2026-03-29T12:00:00Z'));
    expect(iso(spring)).toEqual(['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z']);
    const autumn = periodSpan('day', 0, 'Europe/Berlin', at('2026-10-25T12:00:00Z'));
    expect((autumn.end - autumn.start) / 3_600_000).toBe(25);
    // 02:30 does not exist on the spring day: the reset falls at the change.
    const gap = periodSpan('day', 150, 'Europe/Berlin', at('2026-03-29T12:00:00Z'));
    expect(gap.start).toBeGreaterThanOrEqual(at('2026-03-29T00:30:00Z'));
    expect(gap.start).toBeLessThanOrEqual(at('2026-03-29T01:30:00Z'));
  });

  it('remembers the span until it ends', () => {
    const a = currentSpan('day', 0, 'UTC', at('2026-12-06T08:30:00Z'));
    expect(currentSpan('day', 0, 'UTC', at('2026-12-06T23:59:59Z'))).toBe(a);
    expect(iso(currentSpan('day', 0, 'UTC', at('2026-12-07T00:00:01Z')))[0]).toBe('2026-12-07T00:00:00.000Z');
    // A clock moved back (another test, or NTP) gets its own span too.
    expect(iso(currentSpan('day', 0, 'UTC', at('2026-12-01T12:00:00Z')))[0]).toBe('2026-12-01T00:00:00.000Z');
  });

  it('parses reset times and zones', () => {
    expect(parseResetTime('00:00')).toBe(0);
    expect(parseResetTime('23:59')).toBe(1439);
    expect(parseResetTime('24:00')).toBeUndefined();
    expect(parseResetTime('9:00')).toBeUndefined();
    expect(formatResetTime(545)).toBe('09:05');
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
