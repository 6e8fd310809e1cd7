import { expect, it } from 'vitest';
import { migrate } from '../../functions/operations/migrate/migrate';
import { ensurePartitions } from '../../functions/operations/partitions/partitions';
import { prune } from '../../functions/operations/prune/prune';
import { DAY_MS } from '../../functions/shared/days';
import { LockBusyError, PartialFailureError } from '../../functions/shared/errors';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { connect, createTestDatabase, holdInTransaction, testContext } from '../support/database';
import { seedDays } from '../support/rows';
import { startWriter, type WriterOptions, type WriterResult } from '../support/writer';

/*
 * Writers insert continuously into all four time-series tables while partitions, default
 * emptying and prune run, then while a long transaction holds a lock in their way. Every insert
 * must succeed, every committed row must be there exactly once, and no insert may wait much
 * longer than the maintenance lock timeout.
 */

const LOCK_TIMEOUT_MS = 300;
/** Rows for today; early rows for days with no partition yet (inside and beyond the window); late rows for past days. */
const KINDS: NonNullable<WriterOptions['symbols']> = [
  ['ING-today', '0'],
  ['ING-early', '5 days'],
  ['ING-far', '12 days'],
  ['ING-late', '-3 days'],
];

function summarise(results: WriterResult[]) {
  const latencies = results.flatMap((r) => r.samples.map((s) => s.ms)).sort((a, b) => a - b);
  return {
    attempted: latencies.length + results.reduce((n, r) => n + r.failed, 0),
    failed: results.reduce((n, r) => n + r.failed, 0),
    errors: results.flatMap((r) => r.errors),
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    max: latencies.at(-1) ?? 0,
  };
}

it('loses no insert and stalls none for much longer than the lock timeout while maintenance runs', async ({ annotate }) => {
  const url = await createTestDatabase();
  const ctx = testContext(url, { settings: { lockTimeoutMs: LOCK_TIMEOUT_MS, ddlAttempts: 3, retryBaseDelayMs: 50, batchSize: 500 } });
  await migrate(ctx);
  await ensurePartitions(ctx, { daysAhead: 2 });
  // Old rows for prune to delete and drop: 45 and 44 days ago, in partitions of their own.
  const seed = await connect(url);
  await seedDays(seed, { from: new Date(Date.now() - 45 * DAY_MS), days: 2, rowsPerDay: 500, symbol: 'OLD' });
  await ensurePartitions(ctx, { daysAhead: 2 });

  const writers = [0, 1].map(() => startWriter(url, { symbols: KINDS, applicationName: 'test-ingest-writer' }));
  await new Promise((resolve) => setTimeout(resolve, 300));

  // Maintenance as scheduled, twice over, while the writers keep going.
  const maintenance: string[] = [];
  for (let round = 0; round < 2; round++) {
    const created = await ensurePartitions(ctx, { daysAhead: 7 });
    maintenance.push(`partitions: ${created.partitions_created} created, ${created.rows_moved} moved`);
    const pruned = await prune(ctx, { olderThanDays: 30, dropPartitionsOlderThanDays: 40 });
    maintenance.push(
      `prune: ${Object.values(pruned.rows_deleted).reduce((a, b) => a + b, 0)} deleted, ${pruned.partitions_dropped} dropped`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  // A long transaction reading trades holds ACCESS SHARE on every trades partition: emptying the
  // default of trades needs ACCESS EXCLUSIVE on it. The run must give up on trades under its lock
  // timeout rather than keep the writers queued behind its wait.
  const reader = await holdInTransaction(url, 'SELECT count(*) FROM trades');
  const late = await connect(url);
  await late.query(
    `INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (3, 'LATE', now() - interval '2 days' - interval '1 hour', 1, 1)`,
  );
  await late.query(`INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (3, 'LATE', now() + interval '20 days', 1, 1)`);
  const blocked = await ensurePartitions(ctx, { daysAhead: 7 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  await reader.release();
  expect(blocked).toBeInstanceOf(PartialFailureError);
  expect((blocked as PartialFailureError).message).toMatch(
    /^partitions failed on trades \(.*could not get its lock within 300 ms in 3 attempts/,
  );
  const after = await ensurePartitions(ctx, { daysAhead: 7 }).catch((e: unknown) =>
    e instanceof LockBusyError ? undefined : Promise.reject(e),
  );
  expect(after?.tables.map((t) => t.status)).toEqual(['ok', 'ok', 'ok', 'ok']);

  const results = await Promise.all(writers.map((w) => w.stop()));
  const figures = summarise(results);
  // The figures, for the docs: shown by `--reporter=verbose`, not by a default run.
  await annotate(
    `ingestion under maintenance: ${figures.attempted} inserts, ${figures.failed} failed, p99 ${figures.p99.toFixed(1)} ms, max ${figures.max.toFixed(1)} ms; ${maintenance.join('; ')}`,
  );
  expect(figures.errors).toEqual([]);
  expect(figures.failed).toBe(0);
  // Every committed row is there exactly once, whichever partition it ended up in.
  const client = await connect(url);
  let lost = 0;
  for (const table of TIME_SERIES_TABLES) {
    for (const [kind] of KINDS) {
      const committed = results.reduce((n, r) => n + (r.inserted[`${table}/${kind}`] ?? 0), 0);
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE symbol = $1`, [kind]);
      expect(committed).toBeGreaterThan(0);
      lost += committed - Number(rows[0]?.n);
      expect(Number(rows[0]?.n), `${table} ${kind}`).toBe(committed);
    }
  }
  expect(lost).toBe(0);
  // Nothing is left in the default partitions, and the old rows are gone.
  const leftover = await client.query(`SELECT 1 FROM tickers_default UNION ALL SELECT 1 FROM trades WHERE symbol = 'OLD'`);
  expect(leftover.rowCount).toBe(0);
  // Generous: the machine is shared; the bound that matters is "about one lock timeout", not 10 s queues.
  expect(figures.max).toBeLessThan(LOCK_TIMEOUT_MS + 2_000);
});
