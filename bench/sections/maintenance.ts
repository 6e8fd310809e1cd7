import { ensurePartitions } from '../../functions/operations/partitions/partitions';
import { prune } from '../../functions/operations/prune/prune';
import { addDays, dayOf, daySeries, dayStart, partitionName } from '../../functions/shared/days';
import { quoteIdent } from '../../functions/shared/db/identifiers';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { copyRows, createDayPartitions, seedMarkets } from '../support/data';
import { type BenchDatabase, createBenchDatabase, MAINTENANCE_APP } from '../support/database';
import { duringIngestion, type IngestionResult } from '../support/ingestion';
import { watchLongestTransaction } from '../support/lock-watch';
import { type Summary, summarize } from '../support/timing';

export interface OperationResult {
  name: string;
  time: Summary;
  /** Longest transaction of the maintenance session seen, per run: the longest lock hold. */
  longestLock: Summary;
  detail: string;
}

/** The sizes of the fixed scenarios (`--backlog-rows`, `--old-days`); the defaults are the documented run. */
export interface BacklogAndRetention {
  /** Rows waiting in the tickers DEFAULT partition, over the 10 past days, for `partitions` to move. */
  backlogRows: number;
  /** Old day partitions, 100 rows a day per table, for the retention to drop. */
  oldDays: number;
}

interface Scenario {
  name: string;
  /** Untimed: brings the database to the state the operation starts from. */
  setup: () => Promise<void>;
  run: () => Promise<string>;
}

async function dropDays(db: BenchDatabase, days: string[]): Promise<void> {
  const names = TIME_SERIES_TABLES.flatMap((table) => days.map((day) => quoteIdent(partitionName(table, day))));
  for (let i = 0; i < names.length; i += 200) await db.query(`DROP TABLE IF EXISTS ${names.slice(i, i + 200).join(', ')}`);
}

/**
 * Partitions and prune scenarios: each timed `runs` times with its longest lock hold, then run
 * once more while a writer thread inserts continuously, for the insert latencies during it.
 */
export async function maintenanceBench(
  adminUrl: string,
  runs: number,
  pruneRows: number,
  log: (line: string) => void,
  sizes: BacklogAndRetention = { backlogRows: 100_000, oldDays: 180 },
) {
  const db = await createBenchDatabase(adminUrl, 'bench_maintenance');
  await seedMarkets(db.url);
  const today = dayOf(new Date());
  const ahead = daySeries(today, 30);
  const pastTen = daySeries(addDays(today, -10), 10);
  // Old days ending 20 days ago: the retention below drops everything older than that.
  const oldDays = daySeries(addDays(today, -20 - sizes.oldDays), sizes.oldDays);
  let pinnedNow = new Date();
  const createOldDays = async () => {
    await createDayPartitions(db.url, TIME_SERIES_TABLES, oldDays);
    const from = dayStart(oldDays[0] ?? today);
    const to = dayStart(addDays(oldDays.at(-1) ?? today, 1));
    // 100 rows a day in each table.
    for (const table of TIME_SERIES_TABLES) await copyRows(db.url, table, 100 * sizes.oldDays, from, new Date(to.getTime() - 1000));
  };
  const pinned = { ...db.ctx, now: () => pinnedNow };

  const scenarios: Scenario[] = [
    {
      name: 'partitions, nothing to do (7 days present)',
      setup: () => ensurePartitions(db.ctx, { daysAhead: 7 }).then(() => undefined),
      run: async () => `${(await ensurePartitions(db.ctx, { daysAhead: 7 })).partitions_created} created`,
    },
    {
      name: 'partitions, create 30 days x 4 tables',
      setup: () => dropDays(db, ahead),
      run: async () => `${(await ensurePartitions(db.ctx, { daysAhead: 30 })).partitions_created} created`,
    },
    {
      name: `partitions, empty a default holding ${sizes.backlogRows.toExponential(0).replace('+', '')} rows over 10 days`,
      setup: async () => {
        await ensurePartitions(db.ctx, { daysAhead: 7 });
        await dropDays(db, pastTen);
        await db.query('TRUNCATE tickers_default');
        await copyRows(db.url, 'tickers', sizes.backlogRows, dayStart(pastTen[0] ?? today), new Date(dayStart(today).getTime() - 1000));
        await db.query('ANALYZE tickers_default');
      },
      run: async () => {
        const report = await ensurePartitions(db.ctx, { daysAhead: 7 });
        return `${report.rows_moved} rows moved, ${report.partitions_created} partitions created`;
      },
    },
    {
      name: `prune, drop ${sizes.oldDays} days of partitions x 4 tables`,
      setup: () => createOldDays(),
      run: async () => `${(await prune(db.ctx, { dropPartitionsOlderThanDays: 20 })).partitions_dropped} partitions dropped`,
    },
    {
      // The same drops one partition per transaction, as prune did before groups: the ratio of
      // the two rows is measured in one run.
      name: `prune, drop ${sizes.oldDays} days of partitions x 4 tables, one per transaction`,
      setup: () => createOldDays(),
      run: async () => {
        const oneByOne = { ...db.ctx, settings: { ...db.ctx.settings, dropGroupSize: 1 } };
        return `${(await prune(oneByOne, { dropPartitionsOlderThanDays: 20 })).partitions_dropped} partitions dropped`;
      },
    },
  ];

  // Deleting rows inside a partition that straddles the cutoff: the batched path, not the
  // whole-partition truncate. Same rows for ours and for one plain DELETE.
  const loadDeletable = async () => {
    pinnedNow = new Date();
    const cutoff = new Date(pinnedNow.getTime() - 2 * 86_400_000);
    await createDayPartitions(db.url, ['tickers'], daySeries(addDays(dayOf(cutoff), -1), 10));
    await db.query('TRUNCATE tickers');
    await copyRows(db.url, 'tickers', pruneRows, dayStart(dayOf(cutoff)), new Date(cutoff.getTime() - 1000));
    await copyRows(db.url, 'tickers', Math.round(pruneRows / 10), new Date(cutoff.getTime() + 60_000), pinnedNow);
    await db.query('VACUUM ANALYZE tickers');
  };
  scenarios.push(
    {
      name: `prune --older-than, delete ${pruneRows.toExponential(0)} rows in batches`,
      setup: loadDeletable,
      run: async () => `${(await prune(pinned, { olderThanDays: 2 })).rows_deleted.tickers} rows deleted`,
    },
    {
      name: `one plain DELETE of the same ${pruneRows.toExponential(0)} rows`,
      setup: loadDeletable,
      run: async () => {
        const cutoff = new Date(pinnedNow.getTime() - 2 * 86_400_000);
        // On the maintenance pool, so the lock watcher sees it as it sees ours.
        return `${(await db.ctx.pool.query('DELETE FROM tickers WHERE ts < $1', [cutoff])).rowCount} rows deleted`;
      },
    },
  );

  const operations: OperationResult[] = [];
  const ingestion: IngestionResult[] = [];
  const writerRun = async (during: string, work: () => Promise<unknown>) => {
    ingestion.push((await duringIngestion(db.url, during, work, { log })).ingestion);
  };

  await writerRun('at rest (3 s)', () => new Promise((resolve) => setTimeout(resolve, 3000)));
  for (const scenario of scenarios) {
    const times: number[] = [];
    const locks: number[] = [];
    let detail = '';
    for (let run = 0; run < runs; run += 1) {
      await scenario.setup();
      const watch = await watchLongestTransaction(db.url, MAINTENANCE_APP);
      const started = performance.now();
      detail = await scenario.run();
      times.push(performance.now() - started);
      locks.push((await watch.stop()).any);
    }
    operations.push({ name: scenario.name, time: summarize(times), longestLock: summarize(locks), detail });
    log(`maintenance: ${scenario.name}: ${detail}, median ${Math.round(summarize(times).median)} ms`);
    await scenario.setup();
    await writerRun(scenario.name, scenario.run);
  }
  await db.drop();
  return { operations, ingestion };
}
