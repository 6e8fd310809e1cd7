import { describe, expect, it } from 'vitest';
import { EMBEDDED_MIGRATIONS } from '../../functions/operations/migrate/embedded-migrations';
import { migrate } from '../../functions/operations/migrate/migrate';
import { ensurePartitions, type PartitionsReport } from '../../functions/operations/partitions/partitions';
import { type PruneReport, prune } from '../../functions/operations/prune/prune';
import { collectStats } from '../../functions/operations/stats/stats';
import type { OperationContext } from '../../functions/shared/context';
import { DeadlineError } from '../../functions/shared/errors';
import { connect, createTestDatabase, databaseState, testContext } from '../support/database';
import { dataFingerprint, seedDays } from '../support/rows';

const NOW = new Date('2026-06-15T12:00:00Z');

/** A deadline that allows exactly `steps` step checks, then reports 1 ms left. */
function deadlineAfter(ctx: OperationContext, steps: number): OperationContext {
  let checks = 0;
  return { ...ctx, timeLeftMs: () => (++checks <= steps ? 600_000 : 1) };
}

async function rejection(promise: Promise<unknown>): Promise<DeadlineError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeadlineError);
  return error as DeadlineError;
}

describe('a run near its deadline', () => {
  it('migrate stops between migrations; the ledger matches what was applied and a re-run finishes', async () => {
    const url = await createTestDatabase();
    const ctx = testContext(url, { now: NOW });
    const error = await rejection(migrate(deadlineAfter(ctx, 1)));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(
      /^stopped before migration 0002_\S+: 0\.0 s left before the Lambda deadline, less than the 30\.0 s reserved/,
    );
    const report = error.report as Awaited<ReturnType<typeof migrate>>;
    expect(report.migrations.map((m) => m.status)).toEqual(['applied', ...Array(EMBEDDED_MIGRATIONS.length - 1).fill('pending')]);
    const client = await connect(url);
    const ledger = await client.query<{ name: string }>('SELECT name FROM perps_schema_migrations ORDER BY name');
    expect(ledger.rows.map((r) => r.name)).toEqual([report.migrations[0]?.name]);

    const rerun = await migrate(ctx);
    expect(rerun.migrations.map((m) => m.status)).toEqual(['already_applied', ...Array(EMBEDDED_MIGRATIONS.length - 1).fill('applied')]);
    const reference = await createTestDatabase();
    await migrate(testContext(reference, { now: NOW }));
    const { relations } = await databaseState(url);
    expect(relations).toEqual((await databaseState(reference)).relations);
  });

  it('partitions stops between two steps of a day without losing a row; the report says what was done', async () => {
    const url = await createTestDatabase();
    const ctx = testContext(url, { now: NOW, settings: { batchSize: 15 } });
    await migrate(ctx);
    // Rows for 3 days with no partition wait in the default partitions: 40 a day, 3 batches.
    const client = await connect(url);
    await seedDays(client, { from: '2026-06-10', days: 3, rowsPerDay: 40 });
    const before = await dataFingerprint(url);

    // tickers: the swap (1); 06-10: prepare, 3 batches copied out of the backlog, 1 moved out of the default,
    // indexes, foreign keys, attach (8); 06-11: prepare, 1 batch; the check before its second
    // batch stops it.
    const error = await rejection(ensurePartitions(deadlineAfter(ctx, 11), { daysAhead: 3 }));
    const report = error.report as PartitionsReport;
    expect(report.tables).toEqual([expect.objectContaining({ table: 'tickers', status: 'stopped', created: ['tickers_2026_06_10'] })]);
    expect(report.partitions_created).toBe(1);
    expect(report.rows_moved).toBe(40 + 15);
    expect(error.message).toContain('stopped before copying rows out of tickers_backlog_1 into tickers_2026_06_11 (tickers)');
    // The rows of 06-11 and 06-12 (40 each), and only they, are named, with where they wait and what to run.
    expect(report.rows_out_of_sight).toEqual([{ table: 'tickers', rows: 80, relations: ['tickers_backlog_1', 'tickers_2026_06_11'] }]);
    expect(error.message).toMatch(
      /\. 80 rows of tickers \(in tickers_backlog_1, tickers_2026_06_11\) wait out of sight of queries on their tables: run partitions again to bring them back \(`npm run local -- partitions`, or invoke the partitions function with \{\}\); the hourly partitions schedule does so within the hour$/,
    );
    const stats = await collectStats(ctx);
    expect(stats.tables.tickers).toMatchObject({
      row_count: 40,
      backlog_rows: 80,
      backlog_tables: ['tickers_backlog_1', 'tickers_2026_06_11'],
    });
    expect(stats.tables.trades).toMatchObject({ backlog_rows: 0, backlog_tables: [] });
    // Rows of 06-11 and 06-12 are out of sight of the parent until a run attaches their days.
    const counts = await client.query(
      `SELECT (SELECT count(*) FROM tickers)::int AS visible, (SELECT count(*) FROM tickers_2026_06_11)::int AS day,
              (SELECT count(*) FROM tickers_backlog_1)::int AS backlog`,
    );
    // The backlog keeps every row until it is dropped; its comment says how far the copy got:
    // 06-10 whole, 06-11 through its 15th row (each day's rows are 36 minutes apart).
    expect(counts.rows[0]).toEqual({ visible: 40, day: 15, backlog: 120 });
    const progress = await client.query(`SELECT obj_description('tickers_backlog_1'::regclass, 'pg_class') AS comment`);
    expect(progress.rows[0]?.comment.split('\n').slice(1)).toEqual([
      'copied 2026-06-10 all',
      `copied 2026-06-11 through ${(await client.query(`SELECT to_char(max(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS t FROM tickers_2026_06_11`)).rows[0]?.t}+00`,
    ]);
    for (const table of ['orderbooks', 'trades', 'funding_rates'] as const)
      expect((await dataFingerprint(url))[table]).toEqual(before[table]);

    const rerun = await ensurePartitions(ctx, { daysAhead: 3 });
    expect(rerun.tables.every((t) => t.status === 'ok' && t.runway_days === 3)).toBe(true);
    expect(rerun.rows_out_of_sight).toEqual([]);
    expect((await collectStats(ctx)).tables.tickers).toMatchObject({ backlog_rows: 0, backlog_tables: [] });
    expect(rerun.partitions_created).toBe(4 * 6 - 1);
    expect(await dataFingerprint(url)).toEqual(before);
  });

  it('prune stops between delete batches; rows deleted are exactly those reported', async () => {
    const url = await createTestDatabase();
    const ctx = testContext(url, { now: NOW, settings: { batchSize: 50 } });
    await migrate(ctx);
    const client = await connect(url);
    await seedDays(client, { from: '2026-06-01', days: 4, rowsPerDay: 100 });
    await ensurePartitions(ctx, { daysAhead: 1 });
    const before = await dataFingerprint(url);

    // The cutoff is 06-04 12:00. Per table: truncate 06-01, 06-02 and 06-03 (wholly older), then
    // delete the older half of 06-04 in batches of at most 50. A check before each action and each
    // batch: the 3 truncates, the delete, its first batch; the check before the second batch stops it.
    const error = await rejection(prune(deadlineAfter(ctx, 5), { olderThanDays: 11 }));
    const report = error.report as PruneReport;
    expect(report.actions.slice(0, 4).map((a) => [a.action, a.status])).toEqual([
      ['truncate_partition', 'done'],
      ['truncate_partition', 'done'],
      ['truncate_partition', 'done'],
      ['delete_rows', 'stopped'],
    ]);
    expect(report.actions.slice(4).every((a) => a.status === 'planned')).toBe(true);
    expect(error.message).toContain('stopped before the next batch of delete rows tickers_2026_06_04');
    const firstBatch = Number(report.actions[3]?.rows ?? 0);
    expect(firstBatch).toBeGreaterThan(0);
    expect(firstBatch).toBeLessThanOrEqual(50);
    const after = await dataFingerprint(url);
    expect(before.tickers.rows - after.tickers.rows).toBe(300 + firstBatch);
    expect(report.rows_deleted).toEqual({ tickers: 300 + firstBatch });
    for (const table of ['orderbooks', 'trades', 'funding_rates'] as const) expect(after[table]).toEqual(before[table]);

    const rerun = await prune(ctx, { olderThanDays: 11 });
    expect(rerun.actions.every((a) => a.status === 'done')).toBe(true);
    const done = await dataFingerprint(url);
    // Only the rows of 06-04 from 12:00 on are younger than 11 days.
    for (const table of ['tickers', 'orderbooks', 'trades', 'funding_rates'] as const) expect(done[table].rows).toBe(50);
  });
});
