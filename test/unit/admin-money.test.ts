// Exact money and time parsing for the admin API and CLI: decimal amounts to integer micro-units with no
// float rounding, and the times and durations query strings and flags accept.
import { describe, expect, it } from 'vitest';
import { AmountError, formatMicros, parseAmountMicros } from '../../src/admin/money.js';
import { parseDuration, parseTimestamp, TimeFormatError, unixSeconds, unixSecondsExact } from '../../src/admin/time.js';
import { findInexactNumber, isExactNumber } from '../../src/admin/exact-numbers.js';
import { MAX_BALANCE_MICROS } from '../../src/store/ledger.js';

describe('parseAmountMicros', () => {
  it('reads decimal strings exactly', () => {
    expect(parseAmountMicros('10.50')).toBe(10_500_000);
    expect(parseAmountMicros('10')).toBe(10_000_000);
    expect(parseAmountMicros('0.000001')).toBe(1);
    expect(parseAmountMicros('.5')).toBe(500_000);
    expect(parseAmountMicros('+3.25')).toBe(3_250_000);
    expect(parseAmountMicros('-0.000001')).toBe(-1);
    expect(parseAmountMicros('-12.345678')).toBe(-12_345_678);
    expect(parseAmountMicros('007.10')).toBe(7_100_000);
    expect(parseAmountMicros('0')).toBe(0);
    expect(parseAmountMicros('-0')).toBe(0);
    expect(Object.is(parseAmountMicros('-0'), -0)).toBe(false);
  });

  it('never rounds through floats: values whose float product is off still come out exact', () => {
    // In floating point 1.005 * 1e6 = 1004999.9999999999, 2.01 * 1e6 = 2009999.9999999998, 8.2 * 1e6 = 8199999.999999999.
    expect(1.005 * 1e6).not.toBe(1_005_000);
    expect(parseAmountMicros('1.005')).toBe(1_005_000);
    expect(parseAmountMicros('2.01')).toBe(2_010_000);
    expect(parseAmountMicros('8.2')).toBe(8_200_000);
    expect(parseAmountMicros(8.2)).toBe(8_200_000);
    expect(parseAmountMicros(1.005)).toBe(1_005_000);
    expect(parseAmountMicros('9007199254.740991')).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseAmountMicros('123456789.123456')).toBe(123_456_789_123_456);
  });

  it('reads JSON numbers by their shortest decimal form', () => {
    expect(parseAmountMicros(10.5)).toBe(10_500_000);
    expect(parseAmountMicros(0.1)).toBe(100_000);
    expect(parseAmountMicros(0.29)).toBe(290_000);
    expect(parseAmountMicros(1e-6)).toBe(1);
    expect(parseAmountMicros(-2)).toBe(-2_000_000);
    expect(parseAmountMicros(100)).toBe(100_000_000);
  });

  it('accepts trailing zeros past the sixth decimal place (the value is still exact)', () => {
    expect(parseAmountMicros('1.0000000')).toBe(1_000_000);
    expect(parseAmountMicros('2.12345600')).toBe(2_123_456);
  });

  it('refuses more than six significant decimals instead of rounding', () => {
    expect(() => parseAmountMicros('1.0000001')).toThrow(/at most 6 decimal places/);
    expect(() => parseAmountMicros('0.0000005')).toThrow(AmountError);
    expect(() => parseAmountMicros(0.1 + 0.2)).toThrow(/at most 6 decimal places/);
    expect(() => parseAmountMicros(1e-7)).toThrow(AmountError);
  });

  it('refuses anything that is not a plain decimal', () => {
    for (const bad of ['', ' ', '1e3', '1E3', '1,000', '1_000', ' 1', '1 ', '1.', '.', '-', '+', '--1', '0x10', 'ten', '1.2.3', 'Infinity', 'NaN', '١٢']) {
      expect(() => parseAmountMicros(bad), JSON.stringify(bad)).toThrow(AmountError);
    }
    for (const bad of [Infinity, -Infinity, NaN, 1e21]) expect(() => parseAmountMicros(bad), String(bad)).toThrow(AmountError);
  });

  it('refuses amounts that do not fit in safe integer micro-units', () => {
    expect(() => parseAmountMicros('9007199254.740992')).toThrow(/too large/);
    expect(() => parseAmountMicros('-99999999999999999')).toThrow(/too large/);
    expect(() => parseAmountMicros(1e16)).toThrow(/too large/);
  });

  it('formats micro-units back, round-tripping', () => {
    expect(formatMicros(10_500_000)).toBe('10.500000');
    expect(formatMicros(1)).toBe('0.000001');
    expect(formatMicros(-1)).toBe('-0.000001');
    expect(formatMicros(0)).toBe('0.000000');
    for (const micros of [0, 1, -1, 999_999, 1_000_000, -123_456_789, Number.MAX_SAFE_INTEGER]) {
      expect(parseAmountMicros(formatMicros(micros))).toBe(micros);
    }
  });
});

describe('parseTimestamp', () => {
  it('reads unix seconds, to the millisecond', () => {
    expect(parseTimestamp('1735689600')).toBe(1_735_689_600_000);
    expect(parseTimestamp('1735689600.5')).toBe(1_735_689_600_500);
    expect(parseTimestamp('1735689600.123')).toBe(1_735_689_600_123);
    expect(parseTimestamp('0')).toBe(0);
    // The paging cursor (`next_before`) round-trips exactly.
    for (const ms of [1_735_689_600_123, 1_735_689_600_001, 1_735_689_600_999, 1_735_689_600_000]) {
      expect(parseTimestamp(String(unixSecondsExact(ms)))).toBe(ms);
    }
  });

  it('reads ISO 8601 dates (UTC midnight) and times with a zone', () => {
    expect(parseTimestamp('2025-01-01')).toBe(Date.UTC(2025, 0, 1));
    expect(parseTimestamp('2025-01-01T12:30:00Z')).toBe(Date.UTC(2025, 0, 1, 12, 30));
    expect(parseTimestamp('2025-01-01T12:30Z')).toBe(Date.UTC(2025, 0, 1, 12, 30));
    expect(parseTimestamp('2025-01-01t12:30:00.250z')).toBe(Date.UTC(2025, 0, 1, 12, 30, 0, 250));
    expect(parseTimestamp('2025-01-01T12:30:00.123456789Z')).toBe(Date.UTC(2025, 0, 1, 12, 30, 0, 123));
    expect(parseTimestamp('2025-01-01T12:30:00+02:00')).toBe(Date.UTC(2025, 0, 1, 10, 30));
    expect(parseTimestamp('2025-01-01T12:30:00-0530')).toBe(Date.UTC(2025, 0, 1, 18, 0));
    expect(parseTimestamp('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
  });

  it('refuses times without a zone, dates that do not exist, and other text', () => {
    expect(() => parseTimestamp('2025-01-01T12:30:00')).toThrow(/time zone/);
    for (const bad of ['2025-02-30', '2025-02-29', '2025-13-01', '2025-00-10', '2025-01-01T24:00:00Z', '2025-01-01T12:60Z', 'yesterday', '', '-5', '1.5e9', '1735689600.1234', '2025-1-1']) {
      expect(() => parseTimestamp(bad), bad).toThrow(TimeFormatError);
    }
  });

  it('unixSeconds rounds down; null stays null', () => {
    expect(unixSeconds(1_735_689_600_999)).toBe(1_735_689_600);
    expect(unixSeconds(null)).toBeNull();
  });
});

describe('parseDuration', () => {
  it('reads s, m, h, d and w', () => {
    expect(parseDuration('45s')).toBe(45_000);
    expect(parseDuration('90m')).toBe(90 * 60_000);
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
    for (const bad of ['30', '0d', 'd', '1.5h', '-1d', '3x', '']) expect(() => parseDuration(bad), bad).toThrow(/bad duration/);
  });
});

describe('exact JSON numbers (SPEC §16)', () => {
  it('tells the numbers a double holds exactly from those JSON.parse would round', () => {
    for (const token of ['0', '-0', '1', '10.50', '0.1', '-12.345678', '9007199254740991', '-9007199254740991', '1000000000.000001', '1e3', '2.5E-3', '100', '1.0']) {
      expect(isExactNumber(token), token).toBe(true);
    }
    for (const token of ['9007199254740993', '9007199254740992.5', '999999999.9999991', '0.10000000000000001', '1e400', '123456789012345678901234567890']) {
      expect(isExactNumber(token), token).toBe(false);
    }
  });

  it('finds the first inexact number in a body with the path of its field', () => {
    expect(findInexactNumber('{"name":"a","limits":{"requests_per_minute":60}}')).toBeUndefined();
    expect(findInexactNumber('{"name":"x,9007199254740993","limits":{"requests_per_minute":9007199254740993}}')).toEqual({ path: 'limits.requests_per_minute', token: '9007199254740993' });
    expect(findInexactNumber('{"a":[1, 2, {"b\\"c": 999999999.9999991}]}')).toEqual({ path: 'a[2].b"c', token: '999999999.9999991' });
    expect(findInexactNumber('9007199254740993')).toEqual({ path: null, token: '9007199254740993' });
  });
});

describe('the largest balance', () => {
  it('is 10^15 micro-units, so a balance plus any accepted credit stays a safe integer', () => {
    expect(MAX_BALANCE_MICROS).toBe(1_000_000_000_000_000);
    expect(Number.isSafeInteger(2 * MAX_BALANCE_MICROS)).toBe(true);
    expect(formatMicros(MAX_BALANCE_MICROS)).toBe('1000000000.000000');
  });
});
