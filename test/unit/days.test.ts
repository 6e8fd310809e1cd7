import { describe, expect, it } from 'vitest';
import {
  addDays,
  DAY_RANGE_RULE,
  DAY_RULE,
  dayBoundLiterals,
  dayOf,
  daySeries,
  daysBetween,
  partitionDayProblem,
  partitionName,
} from '../../functions/core/days';

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

  it('writes the day after 9999-12-31 as PostgreSQL does, so the last day partition has bounds', () => {
    expect(addDays('9999-12-31', 1)).toBe('10000-01-01');
    expect(dayBoundLiterals('9999-12-31')).toEqual({ from: '9999-12-31 00:00:00+00', to: '10000-01-01 00:00:00+00' });
  });

  it('tells a day no partition can cover (year 0000, BC, beyond 9999) from one that is no day', () => {
    for (const day of ['0001-01-01', '2026-06-10', '9999-12-31']) expect(partitionDayProblem(day)).toBeNull();
    for (const day of ['0000-01-01', '0000-12-31', '-0001-01-01', '10000-01-01', '+010000-01-01']) {
      expect(partitionDayProblem(day)).toBe(DAY_RANGE_RULE);
    }
    for (const day of ['2026-02-30', '2026-6-10', '', 'today']) expect(partitionDayProblem(day)).toBe(DAY_RULE);
  });
});
