import { describe, expect, it } from 'vitest';
import {
  addDays,
  DAY_RANGE_RULE,
  DAY_RULE,
  dayBoundLiterals,
  dayOf,
  daySeries,
  daysBetween,
  describeDay,
  partitionDayProblem,
  partitionName,
} from '../../functions/shared/days';

describe('UTC days', () => {
  it('takes the UTC day of an instant, not the local one', () => {
    expect(dayOf(new Date('2026-11-24T23:59:59.999Z'))).toBe('2026-11-24');
    expect(dayOf(new Date('2026-11-25T00:00:00+13:00'))).toBe('2026-11-24');
  });

  it('adds days across month, year and leap-day boundaries', () => {
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(daySeries('2026-10-30', 4)).toEqual(['2026-10-30', '2026-10-31', '2026-11-01', '2026-11-02']);
    expect(daysBetween('2026-01-01', '2027-01-01')).toBe(365);
  });

  it('names partitions and writes bounds with an explicit UTC offset', () => {
    expect(partitionName('funding_rates', '2026-11-24')).toBe('funding_rates_2026_11_24');
    expect(dayBoundLiterals('2026-12-31')).toEqual({ from: '2026-12-31 00:00:00+00', to: '2027-01-01 00:00:00+00' });
  });

  it('rejects strings that are not calendar days', () => {
    expect(() => partitionName('tickers', '2026-02-30')).toThrow(/not a calendar day/);
    expect(() => addDays("2026-01-01'; DROP TABLE x; --", 1)).toThrow(/not a day/);
  });

  it('tells a day no partition can cover (year 0000, BC, beyond 9999, and 9999-12-31, which has no next day) from one that is no day', () => {
    for (const day of ['0001-01-01', '2026-06-10', '9999-12-30']) expect(partitionDayProblem(day)).toBeNull();
    expect(dayBoundLiterals('9999-12-30')).toEqual({ from: '9999-12-30 00:00:00+00', to: '9999-12-31 00:00:00+00' });
    for (const day of ['0000-01-01', '0000-12-31', '-0001-01-01', '9999-12-31', '10000-01-01', '+010000-01-01']) {
      expect(partitionDayProblem(day)).toBe(DAY_RANGE_RULE);
    }
    for (const day of ['2026-02-30', '2026-6-10', '', 'today']) expect(partitionDayProblem(day)).toBe(DAY_RULE);
  });

  it('never passes an instant past year 9999, BC or infinite off as a day, and describes each for a report', () => {
    // The day after 9999-12-31 has no YYYY-MM-DD form: a clear error, not "+010000-01".
    expect(() => addDays('9999-12-31', 1)).toThrow(/\+010000-01-01T00:00:00.000Z has no YYYY-MM-DD day/);
    expect(() => dayOf(new Date('-000044-03-15T00:00:00Z'))).toThrow(/has no YYYY-MM-DD day/);
    expect(() => dayOf(new Date(Number.NaN))).toThrow(/not an instant/);
    expect(dayOf(new Date('9999-12-31T23:00:00Z'))).toBe('9999-12-31');
    expect(dayOf(new Date('0001-01-01T00:00:00Z'))).toBe('0001-01-01');
    expect(describeDay(new Date('2026-11-24T05:00:00Z'))).toBe('2026-11-24');
    expect(describeDay(new Date('+010000-01-01T00:00:00Z'))).toBe('+010000-01-01T00:00:00.000Z');
    expect(describeDay(new Date('-000044-03-15T00:00:00Z'))).toBe('-000044-03-15T00:00:00.000Z');
    expect(describeDay(Number.POSITIVE_INFINITY)).toBe('infinity');
    expect(describeDay(Number.NEGATIVE_INFINITY)).toBe('-infinity');
    expect(describeDay(new Date(Number.NaN))).toBe('infinity');
  });
});
