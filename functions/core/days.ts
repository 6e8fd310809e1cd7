/**
 * Pure UTC day arithmetic. A "day" is the string YYYY-MM-DD of a UTC calendar day; its
 * partition covers [00:00 UTC, next 00:00 UTC).
 */
const DAY_MS = 86_400_000;
const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The UTC day containing an instant. */
export function dayOf(instant: Date): string {
  const iso = instant.toISOString();
  // After 9999 JavaScript writes +010000-01-01; PostgreSQL and our partition names write 10000-01-01
  // (the day after 9999-12-31, the end of its partition).
  return iso.startsWith('+') ? iso.slice(1, iso.indexOf('T')).replace(/^0+(?=\d{5})/, '') : iso.slice(0, 10);
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
  'must be a day from 0001-01-01 to 9999-12-31: PostgreSQL has no year 0000, and a day partition no BC or five-digit year';

/** Written like a day but with a year no day partition has: 0000, BC (-0001), or beyond 9999. */
const OUT_OF_RANGE_DAY = /^(?:0000|[-+]\d{4,}|\d{5,})-\d{2}-\d{2}$/;

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
