import { collectStats } from '../../functions/operations/stats/stats';
import { addDays, dayOf, daySeries } from '../../functions/shared/days';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { copyRows, createDayPartitions, seedMarkets } from '../support/data';
import { type BenchDatabase, createBenchDatabase } from '../support/database';
import { repeat, type Summary, summarize } from '../support/timing';

export interface StatsScale {
  rows: number;
  ours: Summary;
  naive: Summary;
}

/**
 * A database of `rows` rows (split over the four time-series tables, 30 days, day partitions in
 * place, analyzed) as ingestion would leave it.
 */
export async function loadedDatabase(adminUrl: string, name: string, rows: number): Promise<BenchDatabase> {
  const db = await createBenchDatabase(adminUrl, name);
  await seedMarkets(db.url);
  const today = dayOf(new Date());
  await createDayPartitions(db.url, TIME_SERIES_TABLES, daySeries(addDays(today, -30), 38));
  const to = new Date();
  const from = new Date(to.getTime() - 30 * 86_400_000);
  for (const table of TIME_SERIES_TABLES) await copyRows(db.url, table, Math.round(rows / TIME_SERIES_TABLES.length), from, to);
  await db.query('VACUUM ANALYZE');
  return db;
}

/**
 * Our stats against the naive exact count(*) and min/max(ts) per table, at each scale, warm
 * (one untimed run first). Returns the largest scale's database still open, for the cold start.
 */
export async function statsScaling(adminUrl: string, scales: number[], runs: number, log: (line: string) => void) {
  const results: StatsScale[] = [];
  let kept: BenchDatabase | undefined;
  for (const [index, rows] of scales.entries()) {
    const started = performance.now();
    const db = await loadedDatabase(adminUrl, `bench_stats_${index}`, rows);
    log(`stats: loaded ${rows} rows in ${Math.round(performance.now() - started)} ms`);
    const naive = async () => {
      for (const table of TIME_SERIES_TABLES) await db.query(`SELECT count(*), min(ts), max(ts) FROM ${table}`);
    };
    await collectStats(db.ctx);
    await naive();
    const ours = summarize(await repeat(runs, () => collectStats(db.ctx)));
    const naiveSummary = summarize(await repeat(runs, naive));
    results.push({ rows, ours, naive: naiveSummary });
    if (index === scales.length - 1) kept = db;
    else await db.drop();
  }
  return { results, largest: kept };
}
