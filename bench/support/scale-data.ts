import { addDays, dayOf, daySeries, dayStart } from '../../functions/shared/days';
import { TIME_SERIES_TABLES, type TimeSeriesTable } from '../../functions/shared/tables';
import { type BenchSymbol, benchSymbols, copyRows, createDayPartitions, loadDayPartition, loadDefaultBacklog, seedMarkets } from './data';
import { type BenchDatabase, createBenchDatabase } from './database';

/** Share of the rows per table in production: order books and trades dominate. */
export const TABLE_MIX: Record<TimeSeriesTable, number> = { orderbooks: 0.45, trades: 0.4, tickers: 0.12, funding_rates: 0.03 };

/** 2,000 symbols over the 7 exchanges. */
export const SCALE_SYMBOLS: BenchSymbol[] = benchSymbols(2000);

/** What a production-shaped database holds. */
export interface ScaleShape {
  /** Rows over the last 30 days (today included), all four tables together. */
  rows: number;
  /** Of those, the rows of the last 3 days (today so far included), left in the DEFAULT partitions. */
  backlogRows: number;
  /** Small older days before the 30, with a partition each. */
  oldDays: number;
  /** Rows per table on each of the old days. */
  oldRowsPerDay: number;
}

/** The days of a scale database, relative to `today`. */
export function scaleDays(today: string, shape: Pick<ScaleShape, 'oldDays'>) {
  return {
    /** With a partition each and their rows: days -29 to -3. */
    loaded: daySeries(addDays(today, -29), 27),
    /** In the DEFAULT partition until a partitions run recovers them: days -2 to today. */
    backlogFrom: dayStart(addDays(today, -2)),
    old: daySeries(addDays(today, -29 - shape.oldDays), shape.oldDays),
  };
}

/**
 * A migrated database shaped like production (setup, not measured): SCALE_SYMBOLS as markets; the
 * old days, small; 27 loaded days (-29 to -3), each table's share of the rows by TABLE_MIX, every
 * day partition COPYed bare then indexed, vacuumed and attached; and the last 3 days (up to now) in
 * the DEFAULT partitions, as a partitions schedule broken for three days leaves them.
 */
export async function loadScaleDatabase(
  adminUrl: string,
  name: string,
  shape: ScaleShape,
  log: (line: string) => void,
): Promise<{ db: BenchDatabase; now: Date }> {
  const started = performance.now();
  const db = await createBenchDatabase(adminUrl, name);
  await seedMarkets(db.url, SCALE_SYMBOLS);
  const now = new Date();
  const days = scaleDays(dayOf(now), shape);
  await createDayPartitions(db.url, TIME_SERIES_TABLES, days.old);
  const oldFrom = dayStart(days.old[0] ?? dayOf(now));
  const oldTo = new Date(dayStart(addDays(days.old.at(-1) ?? dayOf(now), 1)).getTime() - 1);
  for (const table of TIME_SERIES_TABLES) {
    await copyRows(db.url, table, shape.oldRowsPerDay * shape.oldDays, oldFrom, oldTo, { symbols: SCALE_SYMBOLS });
  }
  const perDay = (shape.rows - shape.backlogRows) / days.loaded.length;
  for (const [i, day] of days.loaded.entries()) {
    for (const table of TIME_SERIES_TABLES)
      await loadDayPartition(db.url, table, day, Math.round(perDay * TABLE_MIX[table]), SCALE_SYMBOLS);
    if (i % 5 === 4) log(`${name}: ${i + 1} of ${days.loaded.length} days loaded (${Math.round((performance.now() - started) / 1000)} s)`);
  }
  for (const table of TIME_SERIES_TABLES) {
    await loadDefaultBacklog(db.url, table, Math.round(shape.backlogRows * TABLE_MIX[table]), days.backlogFrom, now, SCALE_SYMBOLS);
  }
  // The load's own writes are not the measured operations' to pay for.
  await db.query('CHECKPOINT');
  log(`${name}: loaded ${shape.rows.toExponential(1)} rows in ${Math.round((performance.now() - started) / 1000)} s`);
  return { db, now };
}
