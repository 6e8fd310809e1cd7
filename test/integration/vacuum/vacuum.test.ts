import { beforeAll, describe, expect, it, vi } from 'vitest';
import { migrate } from '../../../functions/operations/migrate/migrate';
import { ensurePartitions } from '../../../functions/operations/partitions/partitions';
import { type VacuumReport, vacuum } from '../../../functions/operations/vacuum/vacuum';
import type { OperationContext } from '../../../functions/shared/context';
import { addDays, dayOf, partitionName } from '../../../functions/shared/days';
import { DeadlineError, LockBusyError } from '../../../functions/shared/errors';
import { TIME_SERIES_TABLES } from '../../../functions/shared/tables';
import { connect, createTestDatabase, holdInTransaction, holdMaintenanceLock, testContext } from '../../support/database';
import { seedDays } from '../../support/rows';
import { startWriter } from '../../support/writer';

/*
 * The real clock: sealing is decided by pg_stat_user_tables, whose timestamps are the server's.
 * Three closed days (today - 3 .. today - 1) hold rows; today and the days ahead are open.
 */
const today = dayOf(new Date());
const closedDays = [addDays(today, -3), addDays(today, -2), addDays(today, -1)];
const closedPartitions = closedDays.flatMap((day) => TIME_SERIES_TABLES.map((table) => partitionName(table, day))).sort();
const yesterday = (table: string) => partitionName(table, addDays(today, -1));
const ROWS_PER_DAY = 500;

let url: string;
let ctx: OperationContext;

/** Inserts on a connection of its own that then ends: a backend flushes its statistics when it exits. */
async function insertAndDisconnect(sql: string, params: unknown[] = []): Promise<void> {
  const client = await connect(url);
  await client.query(sql, params);
  await client.end();
}

/** The rows pg_stat_user_tables has counted into the closed partitions so far. */
async function countedRows(): Promise<number> {
  const client = await connect(url);
  try {
    const { rows } = await client.query<{ n: string }>(
      'SELECT coalesce(sum(n_live_tup), 0) AS n FROM pg_stat_user_tables WHERE relname = ANY ($1)',
      [closedPartitions],
    );
    return Number(rows[0]?.n);
  } finally {
    await client.end();
  }
}

const sealSteps = (report: VacuumReport) => report.steps.filter((step) => step.action === 'seal');
const plan = () => vacuum(ctx, { dryRun: true });

beforeAll(async () => {
  url = await createTestDatabase();
  ctx = testContext(url);
  await migrate(ctx);
  const client = await connect(url);
  await seedDays(client, { from: addDays(today, -3), days: 3, rowsPerDay: ROWS_PER_DAY });
  await client.end();
  // The rows land in the default partitions; this moves them into their day partitions.
  await ensurePartitions(ctx, { daysAhead: 2 });
  // PostgreSQL 12-14 send an idle session's statistics only with its next transaction or at exit:
  // the pool's sessions that moved the rows are ended (the pool opens new ones).
  const admin = await connect(url);
  await admin.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'perps-test' AND state = 'idle'`,
  );
  await admin.end();
  // Every move counted in the statistics, so the first seal is not undone by a late flush.
  await vi.waitFor(async () => expect(await countedRows()).toBe(closedPartitions.length * ROWS_PER_DAY), {
    timeout: 20_000,
    interval: 200,
  });
  // The 500 rows moved into each partition make it due for autoanalyze (50 + 10% of its rows).
  // An autovacuum worker that visits it while a test seals it makes the seal skip it
  // (SKIP_LOCKED), or comes after the seal and counts as a change: on the test server, shared
  // with other files, that happened in one full run of the suite. Analyzed now, none is due; a
  // plain ANALYZE sets no vacuum time, so each partition is still "not sealed yet".
  const analyzer = await connect(url);
  await analyzer.query(`ANALYZE ${closedPartitions.join(', ')}`);
  await analyzer.end();
});

describe('vacuum', () => {
  it('a dry run lists a seal of every closed day partition and an analyze of every parent, and runs none', async () => {
    const report = await plan();
    expect(report.dry_run).toBe(true);
    expect(
      sealSteps(report)
        .map((step) => step.relation)
        .sort(),
    ).toEqual(closedPartitions);
    expect(sealSteps(report).every((step) => step.status === 'planned' && step.reason === 'not sealed yet')).toBe(true);
    expect(report.steps.filter((step) => step.action === 'analyze').map((step) => step.relation)).toEqual(
      expect.arrayContaining([...TIME_SERIES_TABLES]),
    );
    expect(report.partitions_sealed).toBe(0);
    expect((await plan()).steps.map((step) => step.relation)).toEqual(report.steps.map((step) => step.relation));
  });

  it('seals each closed partition once; a partition that gets a late row is sealed again', async () => {
    const first = await vacuum(ctx, {});
    expect(first.steps.every((step) => step.status === 'done' && typeof step.duration_ms === 'number')).toBe(true);
    expect(first.partitions_sealed).toBe(closedPartitions.length);
    // FREEZE: the oldest unfrozen xid of each partition moved past the xids that inserted its rows.
    const client = await connect(url);
    for (const relation of closedPartitions) {
      const { rows } = await client.query<{ frozen: boolean }>(
        `SELECT age(c.relfrozenxid) < (SELECT min(age(xmin)) FROM ${relation}) AS frozen FROM pg_class c WHERE c.relname = $1`,
        [relation],
      );
      expect({ relation, frozen: rows[0]?.frozen }).toEqual({ relation, frozen: true });
    }
    await client.end();

    await vi.waitFor(async () => expect(sealSteps(await plan())).toEqual([]), { timeout: 20_000, interval: 200 });
    const second = await plan();
    expect(second.partitions_already_sealed).toBe(closedPartitions.length);

    await insertAndDisconnect(`INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (1, 'LATE-PERP', $1, 1, 1)`, [
      new Date(`${addDays(today, -2)}T12:00:00Z`),
    ]);
    await vi.waitFor(
      async () =>
        expect(sealSteps(await plan())).toEqual([
          {
            action: 'seal',
            relation: partitionName('trades', addDays(today, -2)),
            reason: 'changed since it was sealed',
            status: 'planned',
          },
        ]),
      { timeout: 20_000, interval: 200 },
    );
    const third = await vacuum(ctx, {});
    expect(sealSteps(third).map((step) => [step.relation, step.status])).toEqual([[partitionName('trades', addDays(today, -2)), 'done']]);
  });

  it('does not wait for an open insert into the partition it seals, and skips one a DDL lock holds', async () => {
    await insertAndDisconnect(`INSERT INTO tickers (exchange_id, symbol, ts, last_price) VALUES (1, 'LATE-PERP', $1, 1)`, [
      new Date(`${addDays(today, -1)}T06:00:00Z`),
    ]);
    await insertAndDisconnect(`INSERT INTO orderbooks (exchange_id, symbol, ts, spread_bps) VALUES (2, 'LATE-PERP', $1, 1)`, [
      new Date(`${addDays(today, -1)}T06:00:00Z`),
    ]);
    await vi.waitFor(async () => expect(sealSteps(await plan()).length).toBe(2), { timeout: 20_000, interval: 200 });
    const insert = await holdInTransaction(
      url,
      `INSERT INTO tickers (exchange_id, symbol, ts, last_price) VALUES (1, 'OPEN-PERP', '${addDays(today, -1)} 07:00:00+00', 1)`,
    );
    const ddl = await holdInTransaction(url, `LOCK TABLE ${yesterday('orderbooks')} IN SHARE UPDATE EXCLUSIVE MODE`);
    try {
      const report = await vacuum(ctx, {});
      expect(sealSteps(report).map((step) => [step.relation, step.status])).toEqual([
        [yesterday('tickers'), 'done'],
        [yesterday('orderbooks'), 'skipped'],
      ]);
    } finally {
      await insert.release();
      await ddl.release();
    }
  });

  it('holds no lock that conflicts with inserts while a writer inserts into the partitions it seals', async () => {
    const client = await connect(url);
    // A good many rows in yesterday's partitions, so the seals take long enough to be sampled.
    await seedDays(client, { from: addDays(today, -1), days: 1, rowsPerDay: 20_000, symbol: 'BULK-PERP' });
    // An autovacuum the seed sets off could hold a partition when its seal comes, which SKIP_LOCKED
    // then skips: off for these partitions (the ALTER cancels one already running), this test is about the seal's own locks.
    for (const table of TIME_SERIES_TABLES) await client.query(`ALTER TABLE ${yesterday(table)} SET (autovacuum_enabled = false)`);
    await vi.waitFor(async () => expect(sealSteps(await plan()).length).toBeGreaterThan(0), { timeout: 20_000, interval: 200 });
    const writer = startWriter(url, { symbols: [['LATE-PERP', '-1 day']] });
    const modes = new Set<string>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await client.query<{ mode: string }>(
          `SELECT DISTINCT l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE a.application_name = 'perps-test' AND l.locktype = 'relation' AND l.granted
              AND a.query ~* '^(VACUUM|ANALYZE)'`,
        );
        for (const row of rows) modes.add(row.mode);
      }
    })();
    const report = await vacuum(ctx, {});
    sampling = false;
    await sampler;
    const written = await writer.stop();
    await client.end();
    expect(report.steps.every((step) => step.status === 'done')).toBe(true);
    expect(written.failed).toBe(0);
    // Seen while the seals ran; none of these conflicts with an insert's ROW EXCLUSIVE.
    expect(modes.has('ShareUpdateExclusiveLock')).toBe(true);
    expect([...modes].every((mode) => ['AccessShareLock', 'RowExclusiveLock', 'ShareUpdateExclusiveLock'].includes(mode))).toBe(true);
  });

  it('yields to another maintenance run, and stops between two steps at the deadline with the steps before it done', async () => {
    const held = await holdMaintenanceLock(url);
    const busy = await vacuum(ctx, {}).catch((e: unknown) => e);
    await held.release();
    expect(busy).toBeInstanceOf(LockBusyError);

    // A clean start: sealed again until no partition is left over from the writer above (an
    // autovacuum it set off may come after a seal and count as a change).
    await vi.waitFor(
      async () => {
        await vacuum(ctx, {});
        expect(sealSteps(await plan())).toEqual([]);
      },
      { timeout: 30_000, interval: 500 },
    );
    for (const day of closedDays.slice(0, 2)) {
      await insertAndDisconnect(`INSERT INTO funding_rates (exchange_id, symbol, ts, rate) VALUES (4, 'LATE-PERP', $1, 0)`, [
        new Date(`${day}T12:00:00Z`),
      ]);
    }
    await vi.waitFor(async () => expect(sealSteps(await plan()).length).toBe(2), { timeout: 20_000, interval: 200 });
    let checks = 0;
    const error = await vacuum({ ...ctx, timeLeftMs: () => (++checks <= 1 ? 600_000 : 1) }, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    const report = (error as DeadlineError).report as VacuumReport;
    expect(report.steps[0]?.status).toBe('done');
    expect(report.steps.slice(1).every((step) => step.status === 'planned')).toBe(true);
    expect((error as DeadlineError).message).toMatch(/^stopped before (seal|analyze) \S+: 0\.0 s left/);
  });
});
