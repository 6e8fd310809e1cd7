import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../../../functions/operations/migrate/migrate';
import { ensurePartitions } from '../../../functions/operations/partitions/partitions';
import { type PruneAction, type PruneReport, plannedActions, prune } from '../../../functions/operations/prune/prune';
import { listPartitions } from '../../../functions/shared/catalog';
import type { OperationContext } from '../../../functions/shared/context';
import { DeadlineError, InputError, PartialFailureError } from '../../../functions/shared/errors';
import type { ProgressEvent } from '../../../functions/shared/progress';
import { TIME_SERIES_TABLES } from '../../../functions/shared/tables';
import { connect, copiesOf, fingerprint, runWhileLocked, testContext, withClient, withContext } from '../../support/database';
import { interceptStatements } from '../../support/intercept';

const NOW = new Date('2026-06-15T12:00:00Z');
const HOUR = 3_600_000;
let url: string;
let client: Awaited<ReturnType<typeof connect>>;

/**
 * Four rows a day, at 00:00, 06:00, 12:00 and 18:00 UTC, for 2026-06-01 .. 2026-06-15, in every
 * table, in day partitions; built once, copied for each test.
 */
const seeded = copiesOf((template) => withContext(template, { now: NOW }, (ctx) => withClient(template, (client) => fill(ctx, client))));

async function seed() {
  url = await seeded();
  client = await connect(url);
}

async function fill(ctx: OperationContext, client: pg.ClientBase) {
  await migrate(ctx);
  const instants = Array.from({ length: 15 * 4 }, (_, i) => new Date(Date.parse('2026-06-01T00:00:00Z') + i * 6 * HOUR));
  for (const table of TIME_SERIES_TABLES) {
    const extra = { tickers: '', orderbooks: '', trades: ', price, size', funding_rates: ', rate' }[table];
    const values = { tickers: '', orderbooks: '', trades: ', 1, 1', funding_rates: ', 0.0001' }[table];
    await client.query(
      `INSERT INTO ${table} (exchange_id, symbol, ts${extra}) SELECT 1, s, t${values} FROM unnest($1::timestamptz[]) t, unnest(ARRAY['BTC','ETH']) s`,
      [instants],
    );
  }
  await client.query(`INSERT INTO ingest_events (symbol, status, ts) SELECT 'BTC', 'ok', t FROM unnest($1::timestamptz[]) t`, [instants]);
  // Empties the default partitions into day partitions 06-01 .. 06-15, and creates the window.
  await ensurePartitions(ctx, { daysAhead: 3 });
  // A partition whose name says 2099 but whose bounds are old, and one whose name says old but
  // bounds are in the future: only the catalog bounds may decide.
  await client.query(
    `CREATE TABLE tickers_2099_01_01 PARTITION OF tickers FOR VALUES FROM ('2026-05-01 00:00:00+00') TO ('2026-05-02 00:00:00+00')`,
  );
  await client.query(
    `CREATE TABLE tickers_2020_01_01 PARTITION OF tickers FOR VALUES FROM ('2026-07-01 00:00:00+00') TO ('2026-07-02 00:00:00+00')`,
  );
}

async function everything() {
  const state: Record<string, unknown> = {};
  for (const table of [...TIME_SERIES_TABLES, 'ingest_events', 'markets', 'exchanges']) state[table] = await fingerprint(client, table);
  for (const table of TIME_SERIES_TABLES) state[`${table}:partitions`] = (await listPartitions(client, table)).map((p) => p.name);
  return state;
}

async function count(sql: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(sql);
  return Number(rows[0]?.n);
}

/** A real run's steps as its dry run lists them (prune's own rule, plannedActions), each planned. */
function asPlanned(actions: PruneAction[]): PruneAction[] {
  return plannedActions(actions).map((a) => ({ ...a, status: 'planned' }));
}

describe('prune', () => {
  beforeEach(seed);

  it('drops partitions by their real bounds: ended at or before 00:00 UTC of today - N days, never the default', async () => {
    const ctx = testContext(url, { now: NOW });
    const before = await everything();
    const planned = await prune(ctx, { dropPartitionsOlderThanDays: 5, dryRun: true });
    expect(await everything()).toEqual(before);
    expect(planned.drop_before).toBe('2026-06-10T00:00:00.000Z');

    const done = await prune(ctx, { dropPartitionsOlderThanDays: 5 });
    expect(asPlanned(done.actions)).toEqual(planned.actions);
    const dropped = done.actions.filter((a) => 'table' in a && a.table === 'tickers').map((a) => ('relation' in a ? a.relation : ''));
    expect(dropped).toEqual(['tickers_2099_01_01', ...Array.from({ length: 9 }, (_, i) => `tickers_2026_06_0${i + 1}`)]);
    expect(done.partitions_dropped).toBe(4 * 9 + 1);
    const left = (await listPartitions(client, 'tickers')).map((p) => p.name);
    expect(left).toContain('tickers_2026_06_10');
    expect(left).toContain('tickers_2020_01_01');
    expect(left).toContain('tickers_default');
    expect(await count('SELECT count(*) AS n FROM tickers')).toBe(6 * 4 * 2);
    expect(done.rows_deleted.tickers).toBe(9 * 4 * 2);
  });

  it('deletes rows older than N days, in batches, and truncates partitions wholly older', async () => {
    const ctx = testContext(url, { now: NOW, settings: { batchSize: 3 } });
    // A late row stuck in the default partition, and a row exactly at the cutoff (kept).
    await client.query(
      `INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (1, 'SOL', '2026-04-01T00:00:00Z', 1, 1), (1, 'SOL', '2026-06-12T12:00:00Z', 1, 1)`,
    );
    const cutoff = '2026-06-12T12:00:00Z';
    const expected: Record<string, number> = {};
    for (const table of [...TIME_SERIES_TABLES, 'ingest_events'])
      expected[table] = await count(`SELECT count(*) AS n FROM ${table} WHERE ts < '${cutoff}'`);
    const kept = await count(`SELECT count(*) AS n FROM trades WHERE ts >= '${cutoff}'`);

    const before = await everything();
    const planned = await prune(ctx, { olderThanDays: 3, dryRun: true });
    expect(await everything()).toEqual(before);
    expect(planned.delete_before).toBe('2026-06-12T12:00:00.000Z');
    expect(planned.rows_planned).toEqual(expected);
    expect(planned).not.toHaveProperty('rows_deleted');

    const done = await prune(ctx, { olderThanDays: 3 });
    expect(done.rows_deleted).toEqual(expected);
    // The dry run listed exactly these steps, with the same row counts, but for DEFAULT partitions with nothing to delete.
    expect(asPlanned(done.actions)).toEqual(planned.actions);
    const kinds = done.actions
      .filter((a) => 'table' in a && a.table === 'trades')
      .map((a) => `${a.action}:${'relation' in a ? a.relation : ''}`);
    expect(kinds).toContain('truncate_partition:trades_2026_06_11');
    expect(kinds).toContain('delete_rows:trades_2026_06_12');
    expect(kinds).toContain('delete_rows:trades_default');
    for (const table of [...TIME_SERIES_TABLES, 'ingest_events']) {
      expect(await count(`SELECT count(*) AS n FROM ${table} WHERE ts < '${cutoff}'`)).toBe(0);
    }
    expect(await count(`SELECT count(*) AS n FROM trades WHERE ts >= '${cutoff}'`)).toBe(kept);
  });

  it('deletes a partition straddling the cutoff in batches of at most the batch size, bursts and ties included', async () => {
    // 2026-06-12 holds a dense burst (3,000 rows in ten minutes, over three exchanges), 500 rows
    // sharing one timestamp (more than a batch: the window cannot split them), a sparse stretch
    // before the cutoff at 12:00, and rows after it that must stay.
    await client.query(
      `INSERT INTO tickers (exchange_id, symbol, ts)
       SELECT 1 + g % 3, 'BURST', '2026-06-12T09:00:00Z'::timestamptz + g * interval '200 ms' FROM generate_series(0, 2999) g
       UNION ALL SELECT 4, 'SPARSE', '2026-06-12T00:30:00Z'::timestamptz + g * interval '1 hour' FROM generate_series(0, 7) g
       UNION ALL SELECT 5, 'AFTER', '2026-06-12T12:00:00Z'::timestamptz + g * interval '1 minute' FROM generate_series(0, 99) g
       UNION ALL SELECT 6, 'TIES', '2026-06-12T10:00:00.123456Z' FROM generate_series(1, 500) g`,
    );
    const older = await count(`SELECT count(*) AS n FROM tickers_2026_06_12 WHERE ts < '2026-06-12T12:00:00Z'`);
    // Progress tells the rows deleted so far before each batch, and at the end: the steps are the batches.
    const batches: number[] = [];
    let seen = 0;
    const ctx = {
      ...testContext(url, { now: NOW, settings: { batchSize: 200 } }),
      progress: (event: ProgressEvent) => {
        if (event.task !== 'prune' || event.table !== 'tickers') return;
        if (event.done > seen) batches.push(event.done - seen);
        seen = event.done;
      },
    };
    const done = await prune(ctx, { olderThanDays: 3 });
    const action = done.actions.find((a) => 'relation' in a && a.relation === 'tickers_2026_06_12');
    expect(action).toMatchObject({ action: 'delete_rows', status: 'done', rows: older });
    expect(await count(`SELECT count(*) AS n FROM tickers_2026_06_12 WHERE ts < '2026-06-12T12:00:00Z'`)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM tickers WHERE symbol = 'AFTER'`)).toBe(100);
    // The burst was split: no transaction deleted more than the batch size.
    expect(batches.reduce((a, b) => a + b, 0)).toBe(older);
    expect(batches.length).toBeGreaterThanOrEqual(Math.ceil(older / 200));
    expect(Math.max(...batches)).toBeLessThanOrEqual(200);
  });

  it('with both flags deletes rows first, then drops partitions, as its dry run said', async () => {
    const ctx = testContext(url, { now: NOW });
    const before = await everything();
    const planned = await prune(ctx, { olderThanDays: 3, dropPartitionsOlderThanDays: 10, dryRun: true });
    expect(await everything()).toEqual(before);
    const done = await prune(ctx, { olderThanDays: 3, dropPartitionsOlderThanDays: 10 });
    expect(asPlanned(done.actions)).toEqual(planned.actions);
    // Empty DEFAULT partitions are visited by the real run (0 rows) but not listed as 0-row steps of the plan.
    expect(done.actions.length).toBeGreaterThan(planned.actions.length);
    expect(planned.actions.filter((a) => 'relation' in a && a.relation.endsWith('_default') && a.rows === 0)).toEqual([]);
    const order = done.actions.map((a) => a.action);
    expect(order.lastIndexOf('delete_rows')).toBeLessThan(order.indexOf('drop_partition'));
    expect(order.lastIndexOf('truncate_partition')).toBeLessThan(order.indexOf('drop_partition'));
    // Partitions about to be dropped are not truncated first.
    const truncated = done.actions.flatMap((a) => (a.action === 'truncate_partition' ? [a.relation] : []));
    expect(truncated).not.toContain('tickers_2026_06_01');
    expect(truncated).toContain('tickers_2026_06_05');
    expect(done.actions.every((a) => a.status === 'done')).toBe(true);
    expect(await count(`SELECT count(*) AS n FROM tickers WHERE ts < '2026-06-12T12:00:00Z'`)).toBe(0);
  });

  it('gives up on a partition whose parent is locked by a long transaction, finishes the other steps, and fails at the end', async () => {
    // DROP of a partition needs ACCESS EXCLUSIVE on the parent.
    const { error, elapsed } = await runWhileLocked<PartialFailureError>(url, 'LOCK TABLE ONLY trades IN ACCESS SHARE MODE', () =>
      prune(testContext(url, { now: NOW, settings: { lockTimeoutMs: 100, ddlAttempts: 2 } }), {
        dropPartitionsOlderThanDays: 5,
      }),
    );
    expect(error).toBeInstanceOf(PartialFailureError);
    const report = error.report as PruneReport;
    const trades = report.actions.filter((a) => 'table' in a && a.table === 'trades');
    expect(trades.length).toBe(9);
    expect(trades.every((a) => a.status === 'failed' && /could not get its lock within 100 ms in 2 attempts/.test(a.error ?? ''))).toBe(
      true,
    );
    const others = report.actions.filter((a) => !('table' in a) || a.table !== 'trades');
    expect(others.every((a) => a.status === 'done')).toBe(true);
    expect(report.partitions_dropped).toBe(others.length);
    expect(elapsed).toBeLessThan(30_000); // bounded by attempts x lock_timeout, not by the blocker
    const rerun = await prune(testContext(url, { now: NOW }), { dropPartitionsOlderThanDays: 5 });
    expect(rerun.actions.map((a) => ('relation' in a ? a.relation : ''))).toEqual(trades.map((a) => ('relation' in a ? a.relation : '')));
  });

  it("drops a table's partitions a group to a transaction, a group never spanning two tables", async () => {
    const ctx = testContext(url, { now: NOW, settings: { dropGroupSize: 4 } });
    const statements: string[][] = [];
    interceptStatements(ctx, {
      async before(text) {
        if (text.startsWith('DROP TABLE')) statements.push([...text.matchAll(/"([a-z_0-9]+)"/g)].map((m) => m[1] ?? ''));
      },
    });
    const planned = await prune(ctx, { dropPartitionsOlderThanDays: 5, dryRun: true });
    const done = await prune(ctx, { dropPartitionsOlderThanDays: 5 });
    expect(asPlanned(done.actions)).toEqual(planned.actions);
    expect(done.actions.every((a) => a.status === 'done')).toBe(true);
    expect(done.partitions_dropped).toBe(4 * 9 + 1);
    const days = (table: string, from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => `${table}_2026_06_0${from + i}`);
    // tickers has one more old partition (named 2099): the group boundary moves with it.
    expect(statements.slice(0, 3)).toEqual([
      ['tickers_2099_01_01', ...days('tickers', 1, 3)],
      days('tickers', 4, 7),
      days('tickers', 8, 9),
    ]);
    for (const [i, table] of ['orderbooks', 'trades', 'funding_rates'].entries()) {
      expect(statements.slice(3 + 3 * i, 6 + 3 * i)).toEqual([days(table, 1, 4), days(table, 5, 8), days(table, 9, 9)]);
    }
    expect(statements.length).toBe(12);
    expect(await count(`SELECT count(*) AS n FROM pg_class WHERE relname ~ '_2026_06_0[1-9]$'`)).toBe(0);
  });

  it('marks exactly the actions of a group whose lock is not granted failed, and runs the next group', async () => {
    // DROP needs ACCESS EXCLUSIVE on each partition it drops: 06-06 is in the second group of trades.
    const { error } = await runWhileLocked<PartialFailureError>(url, 'LOCK TABLE trades_2026_06_06 IN ACCESS SHARE MODE', () =>
      prune(testContext(url, { now: NOW, settings: { lockTimeoutMs: 100, ddlAttempts: 2, dropGroupSize: 4 } }), {
        dropPartitionsOlderThanDays: 5,
      }),
    );
    expect(error).toBeInstanceOf(PartialFailureError);
    const report = error.report as PruneReport;
    const failed = report.actions.filter((a) => a.status === 'failed');
    expect(failed.map((a) => ('relation' in a ? a.relation : ''))).toEqual([
      'trades_2026_06_05',
      'trades_2026_06_06',
      'trades_2026_06_07',
      'trades_2026_06_08',
    ]);
    expect(failed.every((a) => /could not get its lock within 100 ms in 2 attempts/.test(a.error ?? ''))).toBe(true);
    expect(report.actions.filter((a) => a.status !== 'failed').every((a) => a.status === 'done')).toBe(true);
    expect(report.partitions_dropped).toBe(4 * 9 + 1 - 4);
    // The group after it ran: trades_2026_06_09 is gone, the failed group's partitions are all there.
    const left = (await listPartitions(client, 'trades')).map((p) => p.name);
    expect(left.filter((name) => /_2026_06_0\d$/.test(name))).toEqual(failed.map((a) => ('relation' in a ? a.relation : '')));
    const rerun = await prune(testContext(url, { now: NOW }), { dropPartitionsOlderThanDays: 5 });
    expect(rerun.partitions_dropped).toBe(4);
  });

  it('stops at the deadline between two groups, with the dropped ones done and the rest planned', async () => {
    let checks = 0;
    // Two step checks allowed: the first two groups of tickers; the check before the third stops the run.
    const ctx = { ...testContext(url, { now: NOW, settings: { dropGroupSize: 4 } }), timeLeftMs: () => (++checks <= 2 ? 600_000 : 1) };
    const error = await prune(ctx, { dropPartitionsOlderThanDays: 5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    expect((error as DeadlineError).message).toContain('stopped before drop partitions tickers_2026_06_08 .. tickers_2026_06_09');
    const report = (error as DeadlineError).report as PruneReport;
    expect(report.actions.map((a) => a.status)).toEqual([...Array(8).fill('done'), ...Array(4 * 9 + 1 - 8).fill('planned')]);
    expect(report.partitions_dropped).toBe(8);
    const left = (await listPartitions(client, 'tickers')).map((p) => p.name);
    expect(left.filter((name) => /_2026_06_0\d$/.test(name))).toEqual(['tickers_2026_06_08', 'tickers_2026_06_09']);
  });

  it('deletes rows under the lock timeout too, instead of hanging behind a table lock', async () => {
    // Recurses: every partition refuses deletes.
    const { error } = await runWhileLocked<PartialFailureError>(url, 'LOCK TABLE tickers IN SHARE MODE', () =>
      prune(testContext(url, { now: NOW, settings: { lockTimeoutMs: 100, ddlAttempts: 2 } }), {
        olderThanDays: 3,
      }),
    );
    const failed = (error.report as PruneReport).actions
      .filter((a) => a.status === 'failed')
      .map((a) => ('relation' in a ? a.relation : ''));
    expect(failed).toContain('tickers_2026_06_12');
    expect(failed.every((r) => r.startsWith('tickers_'))).toBe(true);
  });

  it('truncates every data table only with the database name as confirmation, keeping exchanges', async () => {
    const ctx = testContext(url, { now: NOW });
    await client.query(`INSERT INTO markets (exchange_id, symbol) VALUES (1, 'BTC')`);
    const before = await everything();
    await expect(prune(ctx, { truncate: true })).rejects.toThrow(InputError);
    await expect(prune(ctx, { truncate: true, confirm: 'some_other_db' })).rejects.toThrow(/confirm with the database name/);
    const dry = await prune(ctx, { truncate: true, dryRun: true });
    expect(dry.actions[0]).toMatchObject({ action: 'truncate_tables', status: 'planned' });
    expect(await everything()).toEqual(before);

    const database = new URL(url).pathname.slice(1);
    const done = await prune(ctx, { truncate: true, confirm: database });
    expect(done.rows_deleted.markets).toBe(1);
    expect(done.rows_deleted.tickers).toBe(15 * 4 * 2);
    for (const table of ['markets', ...TIME_SERIES_TABLES, 'ingest_events'])
      expect(await count(`SELECT count(*) AS n FROM ${table}`)).toBe(0);
    expect(await count('SELECT count(*) AS n FROM exchanges')).toBe(7);
  });

  it('rejects a prune with nothing to do, or truncate combined with other flags, before touching anything', async () => {
    const ctx = testContext(url, { now: NOW });
    const before = await everything();
    await expect(prune(ctx, {})).rejects.toThrow(/nothing to prune: give olderThanDays N .*dropPartitionsOlderThanDays N .*truncate/);
    await expect(prune(ctx, { truncate: true, olderThanDays: 3, confirm: 'x' })).rejects.toThrow(/truncate cannot be combined/);
    expect(await everything()).toEqual(before);
  });
});
