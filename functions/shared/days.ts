/**
 * Pure UTC day arithmetic. A "day" is the string YYYY-MM-DD of a UTC calendar day; its
 * partition covers [00:00 UTC, next 00:00 UTC).
 */
/** One UTC day in milliseconds (a calendar day is a YYYY-MM-DD string: see dayOf). */
export const DAY_MS = 86_400_000;
const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * The day after the last day a partition can cover: a day's partition ends at the next day's
 * start, and the day after 9999-12-31 has no YYYY-MM-DD form. Rows from here on stay in the
 * DEFAULT partition (see default-backlog.ts).
 */
export const LAST_PARTITION_DAY_END = '9999-12-31';

/**
 * The UTC day containing an instant. Throws a RangeError naming the instant when it has no
 * YYYY-MM-DD day (after year 9999, or BC): `toISOString` writes those `+010000-01-01...` or
 * `-000001-...`, which must never pass for a day.
 */
export function dayOf(instant: Date): string {
  if (Number.isNaN(instant.getTime())) throw new RangeError('not an instant (an invalid Date): it has no day');
  const iso = instant.toISOString();
  if (!/^\d{4}-/.test(iso) || iso.startsWith('0000-')) throw new RangeError(`${iso} has no YYYY-MM-DD day (years 0001 to 9999 only)`);
  return iso.slice(0, 10);
}

/**
 * A partition bound or a ts for a report: its day when it has one, else the instant as
 * toISOString writes it (`+010000-01-01T00:00:00.000Z`), or `infinity` / `-infinity` (what pg
 * and the catalog give for them). Never throws, so a hand-made partition or a hostile row far
 * out cannot break a report.
 */
export function describeDay(instant: Date | number): string {
  const time = typeof instant === 'number' ? instant : instant.getTime();
  if (Number.isNaN(time) || !Number.isFinite(time)) {
    return time === Number.NEGATIVE_INFINITY ? '-infinity' : 'infinity';
  }
  const date = new Date(time);
  if (Number.isNaN(date.getTime())) return time < 0 ? '-infinity' : 'infinity';
  try {
    return dayOf(date);
  } catch {
    return date.toISOString();
  }
}

/** Midnight UTC at the start of a day. */
export function dayStart(day: string): Date {
  const match = DAY_PATTERN.exec(day);
  if (!match) throw new RangeError(`not a day (YYYY-MM-DD): ${day}`);
  const date = new Date(`${day}T00:00:00.000Z`);
  if (Number.isNaN(date.getTime()) || dayOf(date) !== day) {
    throw new RangeError(`not a calendar day: ${day}`);
  }
  return date;
}

/** Whether a string is a calendar day written YYYY-MM-DD. */
export function isCalendarDay(day: string): boolean {
  try {
    dayStart(day);
    return true;
  } catch {
    return false;
  }
}

/** What a day that is no calendar day is told. */
export const DAY_RULE = 'must be a UTC day written YYYY-MM-DD';

/** What a day no partition can cover is told: PostgreSQL has no year 0 (1 BC comes before 0001), and YYYY stops at 9999. */
export const DAY_RANGE_RULE =
  'must be a day from 0001-01-01 to 9999-12-30: PostgreSQL has no year 0000, and a day partition no BC or five-digit year (9999-12-31 has no next day to end at)';

/**
 * Written like a day but with a year no day partition has: 0000, BC (-0001), or beyond 9999; or
 * 9999-12-31, whose partition would end at 10000-01-01 (see LAST_PARTITION_DAY_END).
 */
const OUT_OF_RANGE_DAY = /^(?:0000|[-+]\d{4,}|\d{5,})-\d{2}-\d{2}$|^9999-12-31$/;

/** Why a string is not a day a day partition can cover (DAY_RULE, DAY_RANGE_RULE), or null when it is one. */
export function partitionDayProblem(day: string): string | null {
  if (OUT_OF_RANGE_DAY.test(day)) return DAY_RANGE_RULE;
  return isCalendarDay(day) ? null : DAY_RULE;
}

export function addDays(day: string, count: number): string {
  return dayOf(new Date(dayStart(day).getTime() + count * DAY_MS));
}

/** `count` consecutive days starting at `first`. */
export function daySeries(first: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => addDays(first, i));
}

/** Whole days between two days (b - a). */
export function daysBetween(a: string, b: string): number {
  return Math.round((dayStart(b).getTime() - dayStart(a).getTime()) / DAY_MS);
}

/** `tickers` + `2026-11-24` -> `tickers_2026_11_24`. */
export function partitionName(table: string, day: string): string {
  dayStart(day);
  return `${table}_${day.replaceAll('-', '_')}`;
}

/**
 * Partition bound literals with an explicit UTC offset, so the session's TimeZone cannot
 * shift the day (PostgreSQL reads a bare date literal in the session zone).
 */
export function dayBoundLiterals(day: string): { from: string; to: string } {
  return { from: `${day} 00:00:00+00`, to: `${addDays(day, 1)} 00:00:00+00` };
}
