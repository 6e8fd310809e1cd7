import { ensurePartitions, type PartitionsReport } from '../../functions/operations/partitions/partitions';
import type { PruneReport } from '../../functions/operations/prune/prune';
import { collectStats } from '../../functions/operations/stats/stats';
import { addDays, dayOf, dayStart } from '../../functions/shared/days';
import { createPool } from '../../functions/shared/db/pool';
import { DEFAULT_CONNECTION_SETTINGS, DEFAULT_MAINTENANCE_SETTINGS } from '../../functions/shared/db/settings';
import { silentLogger } from '../../functions/shared/log';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { buildHandlers, type HandlerOperation } from '../../infra/bundling';
import { interceptStatements } from '../../test/support/intercept';
import type { BenchDatabase } from '../support/database';
import { invokeInFreshProcess, type ProcessRun } from '../support/handler-process';
import { duringIngestion, type IngestionResult } from '../support/ingestion';
import { loadScaleDatabase, type ScaleShape } from '../support/scale-data';
import { type MeasuredOperation, measureOperation, measurePlainSql } from '../support/scenario';
import { largest, type Summary, summarize } from '../support/timing';

/** `rows` over 30 days, 16% of them (1.6e7 of 1e8) in a 3-day DEFAULT backlog; 180 small older days (210 partitions a table). */
export function scaleShape(rows: number): ScaleShape {
  return { rows, backlogRows: Math.round(0.16 * rows), oldDays: 180, oldRowsPerDay: 1000 };
}

export interface StatsAtScale {
  /** The sum of stats' queries as its client times them, in-process, warm (7 runs). */
  dbTime: Summary;
  /** The same shape with 1e6 rows: the ratio says whether stats' cost follows rows. */
  dbTimeAt1e6: Summary;
  /** The stats bundle invoked in fresh processes (5 runs). */
  process: Summary;
  peakRssMiB: number;
  ingestion: IngestionResult;
}

export interface ScaleResult {
  shape: ScaleShape;
  databaseBytes: number;
  operations: MeasuredOperation[];
  stats: StatsAtScale;
}

/**
 * `--scale`: the maintenance against a production-sized database (see scaleShape), each
 * operation its Lambda bundle in a fresh process (time, peak RSS) while a writer inserts single
 * rows (latencies) and a watcher samples the maintenance session (longest transaction).
 */
export async function scaleBench(adminUrl: string, rows: number, log: (line: string) => void): Promise<ScaleResult> {
  const shape = scaleShape(rows);
  await buildHandlers();
  const small = await loadScaleDatabase(adminUrl, 'bench_scale_1e6', scaleShape(1e6), log);
  await ensurePartitions(small.db.ctx, { daysAhead: 1 });
  await small.db.query('VACUUM ANALYZE');
  const dbTimeAt1e6 = await statsDbTime(small.db.url, 7);
  await small.db.drop();

  const { db } = await loadScaleDatabase(adminUrl, 'bench_scale', shape, log);
  try {
    const operations: MeasuredOperation[] = [];
    const invoke = async <T>(
      name: string,
      operation: HandlerOperation,
      event: unknown,
      describe: (result: T) => string,
      nowMs?: number,
    ) => {
      const { result: _, ...measured } = await measureOperation<T>(
        db.url,
        name,
        () => invokeInFreshProcess<T>(operation, event, db.url, { nowMs }),
        describe,
        log,
      );
      operations.push(measured);
    };
    const created = (r: PartitionsReport) => `${r.rows_moved} rows moved, ${r.partitions_created} partitions created`;
    await invoke(
      `partitions: recover the 3-day backlog (${shape.backlogRows.toExponential(1)} rows)`,
      'partitions',
      { daysAhead: 1 },
      created,
    );
    // As autovacuum would, before the rest is measured on them.
    await vacuumRecentDays(db);
    await invoke('partitions: create the next 30 days', 'partitions', { daysAhead: 31 }, created);
    for (let run = 1; run <= 3; run++) await invoke(`partitions: nothing to do (run ${run})`, 'partitions', { daysAhead: 31 }, created);
    const stats = await statsAtScale(db, dbTimeAt1e6, log);
    const pruned = (r: PruneReport) =>
      `${r.partitions_dropped} partitions dropped, ${Object.values(r.rows_deleted).reduce((a, b) => a + b, 0)} rows removed`;
    await invoke('prune: drop the 180 small days', 'prune', { dropPartitionsOlderThanDays: 29 }, pruned);
    await invoke('prune: drop one day (~3e6 rows)', 'prune', { dropPartitionsOlderThanDays: 28 }, pruned);
    // The clock at the last millisecond of today: the cutoff falls 1 ms before the end of day -28,
    // so its rows go by the batched delete (a partition wholly older would be truncated).
    const endOfToday = dayStart(addDays(dayOf(new Date()), 1)).getTime() - 1;
    await invoke('prune --older-than: delete one day of rows (day -28)', 'prune', { olderThanDays: 28 }, pruned, endOfToday);
    operations.push(await plainDelete(db, addDays(dayOf(new Date()), -27), log));
    const size = await db.query('SELECT pg_database_size(current_database()) AS bytes');
    return { shape, databaseBytes: Number(size.rows[0]?.bytes), operations, stats };
  } finally {
    await db.drop();
  }
}

/** VACUUM ANALYZE of the partitions of the last 3 days, which the recovery filled. */
async function vacuumRecentDays(db: BenchDatabase): Promise<void> {
  const today = dayOf(new Date());
  for (const table of TIME_SERIES_TABLES) {
    for (const offset of [-2, -1, 0]) await db.query(`VACUUM ANALYZE ${table}_${addDays(today, offset).replaceAll('-', '_')}`);
  }
}

/** stats' DB time in-process, then the bundle in fresh processes, all with the writer running. */
async function statsAtScale(db: BenchDatabase, dbTimeAt1e6: Summary, log: (line: string) => void): Promise<StatsAtScale> {
  const { result, ingestion } = await duringIngestion(
    db.url,
    'stats (7 in-process runs, 5 fresh processes)',
    async () => {
      const dbTime = await statsDbTime(db.url, 7);
      const runs: ProcessRun<unknown>[] = [];
      for (let run = 0; run < 5; run++) runs.push(await invokeInFreshProcess('stats', {}, db.url));
      const failed = runs.find((r) => r.error);
      if (failed?.error) throw new Error(`stats: ${failed.error.name}: ${failed.error.message}`);
      return { dbTime, runs };
    },
    { batch: 1, log },
  );
  const process = summarize(result.runs.map((r) => r.ms));
  log(
    `stats: DB time ${result.dbTime.median.toFixed(1)} ms (1e6: ${dbTimeAt1e6.median.toFixed(1)} ms), process ${process.median.toFixed(0)} ms`,
  );
  return { dbTime: result.dbTime, dbTimeAt1e6, process, peakRssMiB: largest(result.runs.map((r) => r.peakRssMiB)), ingestion };
}

/** collectStats in this process, `runs` times after one warm-up, each timed as the sum of its queries. */
async function statsDbTime(url: string, runs: number): Promise<Summary> {
  const pool = createPool({ ...DEFAULT_CONNECTION_SETTINGS, url, poolMax: 1, poolMin: 0, applicationName: 'bench-stats' }, silentLogger);
  const ctx = { pool, log: silentLogger, now: () => new Date(), settings: DEFAULT_MAINTENANCE_SETTINGS };
  let spent = 0;
  let started = 0;
  interceptStatements(ctx, {
    async before() {
      started = performance.now();
    },
    async after() {
      spent += performance.now() - started;
    },
  });
  try {
    await collectStats(ctx);
    const samples: number[] = [];
    for (let run = 0; run < runs; run++) {
      spent = 0;
      await collectStats(ctx);
      samples.push(spent);
    }
    return summarize(samples);
  } finally {
    await pool.end();
  }
}

/** One plain DELETE per table of `day`'s rows up to 1 ms before its end: the rows prune removed from the day before. */
async function plainDelete(db: BenchDatabase, day: string, log: (line: string) => void): Promise<MeasuredOperation> {
  const from = dayStart(day);
  const to = new Date(dayStart(addDays(day, 1)).getTime() - 1);
  const { result: _, ...measured } = await measurePlainSql(
    db,
    `one plain DELETE per table of the same rows (day -27)`,
    async (client) => {
      let rows = 0;
      for (const table of TIME_SERIES_TABLES)
        rows += (await client.query(`DELETE FROM ${table} WHERE ts >= $1 AND ts < $2`, [from, to])).rowCount ?? 0;
      return rows;
    },
    (rows) => `${rows} rows deleted`,
    log,
  );
  return measured;
}
