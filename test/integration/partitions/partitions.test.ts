import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../../functions/operations/migrate/migrate';
import { ensurePartitions, type PartitionsReport } from '../../../functions/operations/partitions/partitions';
import { BACKLOG_COMMENT, IN_PROGRESS_COMMENT, listPartitions } from '../../../functions/shared/catalog';
import { LockBusyError, PartialFailureError } from '../../../functions/shared/errors';
import { TIME_SERIES_TABLES } from '../../../functions/shared/tables';
import {
  adminQuery,
  connect,
  createTestDatabase,
  fingerprint,
  holdInTransaction,
  holdMaintenanceLock,
  runWhileLocked,
  testContext,
} from '../../support/database';

const NOW = new Date('2026-06-15T22:30:00Z');
let url: string;

/** The test database runs in a zone far from UTC, so a day bound read in the session zone would be wrong. */
beforeAll(async () => {
  url = await createTestDatabase();
  await adminQuery(`ALTER DATABASE ${new URL(url).pathname.slice(1)} SET TimeZone = 'Pacific/Auckland'`);
  await migrate(testContext(url));
});

async function insertTickers(client: Awaited<ReturnType<typeof connect>>, instants: string[]) {
  await client.query(
    `INSERT INTO tickers (exchange_id, symbol, ts, last_price) SELECT 1, 'BTC-PERP', t, 100 FROM unnest($1::timestamptz[]) AS t`,
    [instants],
  );
}

describe('partitions', () => {
  it('creates day partitions from today (UTC) with UTC bounds whatever the session TimeZone', async () => {
    const report = await ensurePartitions(testContext(url, { now: NOW }), { daysAhead: 3 });
    expect(report.today).toBe('2026-06-15');
    for (const t of report.tables) {
      expect(t).toMatchObject({ status: 'ok', rows_moved: 0, runway_days: 3 });
      expect(t.created).toEqual(['2026_06_15', '2026_06_16', '2026_06_17'].map((d) => `${t.table}_${d}`));
    }
    const client = await connect(url);
    const zone = await client.query<{ tz: string }>(`SELECT current_setting('TimeZone') AS tz`);
    expect(zone.rows[0]?.tz).toBe('Pacific/Auckland');
    const parts = await listPartitions(client, 'tickers');
    const bounds = parts.filter((p) => !p.isDefault).map((p) => [p.name, p.from?.toISOString(), p.to?.toISOString()]);
    expect(bounds).toEqual([
      ['tickers_2026_06_15', '2026-06-15T00:00:00.000Z', '2026-06-16T00:00:00.000Z'],
      ['tickers_2026_06_16', '2026-06-16T00:00:00.000Z', '2026-06-17T00:00:00.000Z'],
      ['tickers_2026_06_17', '2026-06-17T00:00:00.000Z', '2026-06-18T00:00:00.000Z'],
    ]);
    // Analyzed at birth, so stats reads their sizes from the catalog (see leaf-sizes.ts).
    let unanalyzed: string[] = [];
    for (let i = 0; i < 40; i++) {
      await client.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await client.query<{ name: string }>(
        `SELECT relname AS name FROM pg_class WHERE relname = ANY ($1) AND pg_stat_get_last_analyze_time(oid) IS NULL`,
        [report.tables.flatMap((t) => t.created)],
      );
      unanalyzed = rows.map((row) => row.name);
      if (unanalyzed.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(unanalyzed).toEqual([]);
    // A row at 23:59:59.999 UTC lands in that UTC day, not the Auckland one.
    await insertTickers(client, ['2026-06-15T23:59:59.999Z', '2026-06-16T00:00:00Z']);
    const routed = await client.query<{ part: string; ts: Date }>(`SELECT tableoid::regclass::text AS part, ts FROM tickers ORDER BY ts`);
    expect(routed.rows.map((r) => r.part)).toEqual(['tickers_2026_06_15', 'tickers_2026_06_16']);
    // No CHECK constraint is left behind by the attach recipe.
    const checks = await client.query(`SELECT conname FROM pg_constraint WHERE conname LIKE '%_bounds'`);
    expect(checks.rows).toEqual([]);
  });

  it('reports partitions already present and changes nothing on a second run', async () => {
    const report = await ensurePartitions(testContext(url, { now: NOW }), { daysAhead: 3 });
    expect(report.partitions_created).toBe(0);
    expect(report.tables.every((t) => t.present.length === 3 && t.created.length === 0)).toBe(true);
  });

  it('moves rows of past and future days out of the default partition, losing and duplicating none', async () => {
    const client = await connect(url);
    // Late rows (10 days ago), early rows (40 days ahead), and rows of a window day not yet created.
    const late = Array.from({ length: 25 }, (_, i) => new Date(Date.parse('2026-06-05T03:00:00Z') + i * 60_000).toISOString());
    const early = Array.from({ length: 13 }, (_, i) => new Date(Date.parse('2026-07-25T10:00:00Z') + i * 1000).toISOString());
    const inWindow = ['2026-06-19T00:00:00Z', '2026-06-19T23:59:59Z'];
    await insertTickers(client, [...late, ...early, ...inWindow]);
    await client.query(`INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (2, 'ETH-PERP', '2026-05-01T12:00:00Z', 1, 2)`);
    const inDefault = await client.query<{ n: string }>('SELECT count(*) AS n FROM tickers_default');
    expect(Number(inDefault.rows[0]?.n)).toBe(40);
    const before = await fingerprint(client, 'tickers');

    const report: PartitionsReport = await ensurePartitions(testContext(url, { now: NOW, settings: { batchSize: 7 } }), { daysAhead: 5 });
    const tickers = report.tables.find((t) => t.table === 'tickers');
    expect(tickers?.rows_moved).toBe(40);
    // Days emptied out of the default first, then the rest of the window.
    expect(tickers?.created).toEqual(['tickers_2026_06_05', 'tickers_2026_06_19', 'tickers_2026_07_25', 'tickers_2026_06_18']);
    expect(tickers?.runway_days).toBe(5);
    expect(report.tables.find((t) => t.table === 'trades')?.created).toContain('trades_2026_05_01');
    expect(report.rows_moved).toBe(41);

    expect(await fingerprint(client, 'tickers')).toEqual(before);
    const placed = await client.query<{ part: string; n: string }>(
      `SELECT tableoid::regclass::text AS part, count(*) AS n FROM tickers GROUP BY 1 ORDER BY 1`,
    );
    expect(placed.rows.map((r) => [r.part, Number(r.n)])).toEqual([
      ['tickers_2026_06_05', 25],
      ['tickers_2026_06_15', 1],
      ['tickers_2026_06_16', 1],
      ['tickers_2026_06_19', 2],
      ['tickers_2026_07_25', 13],
    ]);
  });

  it('finishes a standalone table left behind by an interrupted run', async () => {
    const client = await connect(url);
    // As createDayPartition leaves it when interrupted after its first step.
    await client.query(`CREATE TABLE funding_rates_2026_06_20 (LIKE funding_rates INCLUDING DEFAULTS INCLUDING INDEXES)`);
    await client.query(`COMMENT ON TABLE funding_rates_2026_06_20 IS '${IN_PROGRESS_COMMENT}'`);
    await client.query(
      `ALTER TABLE funding_rates_2026_06_20 ADD CONSTRAINT funding_rates_2026_06_20_bounds CHECK (ts >= '2026-06-20 00:00:00+00' AND ts < '2026-06-21 00:00:00+00')`,
    );
    const report = await ensurePartitions(testContext(url, { now: NOW }), { daysAhead: 6 });
    expect(report.tables.find((t) => t.table === 'funding_rates')?.created).toEqual(['funding_rates_2026_06_20']);
    const parts = await listPartitions(client, 'funding_rates');
    expect(parts.map((p) => p.name)).toContain('funding_rates_2026_06_20');
  });

  it('lets inserts through while it waits for the locks ATTACH needs on markets', async () => {
    const client = await connect(url);
    const writer = await connect(url, { statement_timeout: 3000 });
    // ATTACH needs SHARE ROW EXCLUSIVE on markets (to clone the foreign key): another session's
    // SHARE lock makes the run wait for it. Inserts, into a partitioned day or into the default,
    // must go through meanwhile.
    const blocker = await holdInTransaction(url, 'LOCK TABLE markets IN SHARE MODE');
    const run = ensurePartitions(testContext(url, { now: NOW, settings: { lockTimeoutMs: 10_000, ddlAttempts: 1 } }), { daysAhead: 7 });
    let waiting = false;
    for (let i = 0; i < 100 && !waiting; i++) {
      const { rows } = await client.query(
        `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE a.application_name = 'perps-test' AND NOT l.granted AND l.relation = 'markets'::regclass`,
      );
      waiting = rows.length > 0;
      if (!waiting) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    try {
      expect(waiting).toBe(true);
      await writer.query(
        `INSERT INTO tickers (exchange_id, symbol, ts) VALUES (1, 'ATTACH-PROBE', '2026-06-16T08:00:00Z'), (1, 'ATTACH-PROBE', '2026-06-21T08:00:00Z')`,
      );
    } finally {
      await blocker.release();
    }
    const report = await run;
    expect(report.tables.find((t) => t.table === 'tickers')?.created).toEqual(['tickers_2026_06_21']);
    const { rows } = await writer.query(`SELECT tableoid::regclass::text AS part FROM tickers WHERE symbol = 'ATTACH-PROBE' ORDER BY ts`);
    expect(rows).toEqual([{ part: 'tickers_2026_06_16' }, { part: 'tickers_2026_06_21' }]);
    await writer.query(`DELETE FROM tickers WHERE symbol = 'ATTACH-PROBE'`);
  });

  it('never fails an insert racing the attach of its own day (rows arriving for days being created)', async () => {
    const fresh = await createTestDatabase();
    const now = new Date();
    await migrate(testContext(fresh));
    const writer = await connect(fresh);
    // Back to back, rows for today and the next days, none of which has a partition yet: each
    // insert is routed to the default partition until the run attaches its day.
    let stop = false;
    let inserted = 0;
    const failures: string[] = [];
    const writing = (async () => {
      for (let n = 0; !stop; n++) {
        try {
          await writer.query(
            `INSERT INTO tickers (exchange_id, symbol, ts) SELECT 1, 'RACE', now() + ($1::int % 5) * interval '1 day' FROM generate_series(1, 20)`,
            [n],
          );
          inserted += 20;
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const report = await ensurePartitions(testContext(fresh, { now }), { daysAhead: 5 });
    stop = true;
    await writing;
    expect(report.partitions_created).toBe(20);
    expect(failures).toEqual([]);
    const { rows } = await writer.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE tableoid = 'tickers_default'::regclass)::int AS in_default FROM tickers`,
    );
    expect(rows[0]).toEqual({ n: inserted, in_default: 0 });
  });

  it('keeps the rows it moved out of sight but in one place when the attach cannot get its locks, and the next run attaches them', async () => {
    const client = await connect(url);
    await insertTickers(client, ['2026-05-20T01:00:00Z', '2026-05-20T02:00:00Z', '2026-05-20T03:00:00Z']);
    const before = await fingerprint(client, 'tickers');
    // A reader of markets. Only the attach needs a lock it conflicts with: adopting the day
    // table's validated foreign keys drops their triggers from markets (ACCESS EXCLUSIVE). The
    // swap, the moves and the validation before it go through.
    const { error } = await runWhileLocked<PartialFailureError>(url, 'SELECT count(*) FROM markets', () =>
      ensurePartitions(testContext(url, { now: NOW, settings: { lockTimeoutMs: 100, ddlAttempts: 2, batchSize: 2 } }), {
        daysAhead: 1,
      }),
    );
    const tickers = (error.report as PartitionsReport).tables.find((t) => t.table === 'tickers');
    expect(tickers?.errors).toEqual([
      expect.stringMatching(
        /^move 2026-05-20 out of tickers_default: attach tickers_2026_05_20: could not get its lock .*; the rows of 2026-05-20 moved so far \(3 in this run\) wait in table tickers_2026_05_20, out of sight of queries on tickers; the next run attaches it$/,
      ),
    ]);
    // Out of sight of the parent, in that table; the backlog keeps its copy, marked copied, until every day is placed.
    expect((await fingerprint(client, 'tickers')).rows).toBe(before.rows - 3);
    expect((await client.query('SELECT ts FROM tickers_2026_05_20')).rowCount).toBe(3);
    expect((await client.query('SELECT 1 FROM tickers_backlog_1')).rowCount).toBe(3);
    const progress = await client.query(`SELECT obj_description('tickers_backlog_1'::regclass, 'pg_class') AS comment`);
    expect(progress.rows[0]?.comment.split('\n').slice(1)).toEqual(['copied 2026-05-20 all']);

    const rerun = await ensurePartitions(testContext(url, { now: NOW }), { daysAhead: 1 });
    expect(rerun.tables.find((t) => t.table === 'tickers')).toMatchObject({ status: 'ok', created: ['tickers_2026_05_20'], rows_moved: 0 });
    expect(await fingerprint(client, 'tickers')).toEqual(before);
    expect((await client.query(`SELECT 1 FROM pg_class WHERE relname LIKE '%\\_backlog\\_%'`)).rowCount).toBe(0);
  });

  it('gives up swapping out the default partition under its lock timeout, leaving every row where it was', async () => {
    const client = await connect(url);
    await insertTickers(client, ['2026-05-21T01:00:00Z']);
    const before = await fingerprint(client, 'tickers');
    // Recurses: the default partition too. DETACH needs ACCESS EXCLUSIVE on both.
    const { error, elapsed } = await runWhileLocked<PartialFailureError>(url, 'LOCK TABLE tickers IN SHARE MODE', () =>
      ensurePartitions(testContext(url, { now: NOW, settings: { lockTimeoutMs: 100, ddlAttempts: 2 } }), {
        daysAhead: 1,
      }),
    );
    const tickers = (error.report as PartitionsReport).tables.find((t) => t.table === 'tickers');
    expect(tickers?.errors.join()).toMatch(/^swap out tickers_default: could not get its lock within 100 ms in 2 attempts/);
    expect(elapsed).toBeLessThan(20_000);
    // Nothing moved: the row is still in the default partition, in sight.
    expect(await fingerprint(client, 'tickers')).toEqual(before);
    expect((await client.query(`SELECT 1 FROM tickers_default WHERE ts = '2026-05-21T01:00:00Z'`)).rowCount).toBe(1);
    const rerun = await ensurePartitions(testContext(url, { now: NOW }), { daysAhead: 1 });
    expect(rerun.tables.find((t) => t.table === 'tickers')).toMatchObject({ status: 'ok', rows_moved: 1 });
  });

  it('leaves alone a day table it did not create, such as a detached partition', async () => {
    const client = await connect(url);
    await client.query('ALTER TABLE orderbooks DETACH PARTITION orderbooks_2026_06_16');
    await client.query(`INSERT INTO orderbooks_2026_06_16 (exchange_id, symbol, ts) VALUES (1, 'ARCHIVED', '2026-06-16T05:00:00Z')`);
    const error = (await ensurePartitions(testContext(url, { now: NOW }), { daysAhead: 3 }).catch(
      (e: unknown) => e,
    )) as PartialFailureError;
    const orderbooks = (error.report as PartitionsReport).tables.find((t) => t.table === 'orderbooks');
    expect(orderbooks?.errors.join()).toMatch(/a table named orderbooks_2026_06_16 exists and is not a partition .*rename or drop it/);
    expect((await listPartitions(client, 'orderbooks')).map((p) => p.name)).not.toContain('orderbooks_2026_06_16');
    await client.query('ALTER TABLE orderbooks_2026_06_16 RENAME TO orderbooks_archive_2026_06_16');
    const rerun = await ensurePartitions(testContext(url, { now: NOW }), { daysAhead: 3 });
    expect(rerun.tables.find((t) => t.table === 'orderbooks')?.created).toEqual(['orderbooks_2026_06_16']);
  });

  it('leaves rows no day partition can hold in the default partition and says how many', async () => {
    const client = await connect(url);
    await insertTickers(client, ['infinity', '-infinity', '0044-03-15T00:00:00Z BC', '12000-01-01T00:00:00Z']);
    const report = await ensurePartitions(testContext(url, { now: NOW }), { daysAhead: 3 });
    expect(report.tables.find((t) => t.table === 'tickers')).toMatchObject({ status: 'ok', rows_unplaceable: 4, rows_moved: 0 });
    await client.query(`DELETE FROM tickers_default`);
  });

  it('keeps rows at 9999-12-31 23:00, infinity, -infinity and BC in sight in the default partition, places a late row beside them, and succeeds run after run', async () => {
    const client = await connect(url);
    const odd = ['9999-12-31T23:00:00Z', 'infinity', '-infinity', '0044-03-15T00:00:00Z BC'];
    await client.query(
      `INSERT INTO trades (exchange_id, symbol, ts, price, size) SELECT 1, 'ODD', t, 1, 1 FROM unnest($1::timestamptz[]) AS t`,
      [[...odd, '2026-05-02T10:00:00Z']],
    );
    const before = await fingerprint(client, 'trades');
    for (const run of [1, 2]) {
      const report = await ensurePartitions(testContext(url, { now: NOW }), { daysAhead: 3 });
      expect(
        report.tables.find((t) => t.table === 'trades'),
        `run ${run}`,
      ).toMatchObject({
        status: 'ok',
        errors: [],
        rows_unplaceable: 4,
        rows_moved: run === 1 ? 1 : 0,
      });
      const where = await client.query<{ part: string; ts: string }>(
        `SELECT tableoid::regclass::text AS part, ts::text AS ts FROM trades WHERE symbol = 'ODD' ORDER BY part, ts`,
      );
      expect(where.rows.map((r) => r.part)).toEqual(['trades_2026_05_02', ...odd.map(() => 'trades_default')]);
      const backlogs = await client.query(`SELECT relname FROM pg_class WHERE relname LIKE 'trades\\_backlog\\_%'`);
      expect(backlogs.rows, `run ${run}`).toEqual([]);
      expect(await fingerprint(client, 'trades')).toEqual(before);
    }
    await client.query(`DELETE FROM trades WHERE symbol = 'ODD'`);
  });

  it('finishes a backlog an older version kept for a row at 9999-12-31 23:00: its rows go back to the default partition', async () => {
    const client = await connect(url);
    // What every run of the older version left: the DEFAULT partition swapped out, never dropped.
    await client.query(`CREATE TABLE trades_backlog_1 (LIKE trades INCLUDING DEFAULTS)`);
    await client.query(`COMMENT ON TABLE trades_backlog_1 IS ${pg.escapeLiteral(BACKLOG_COMMENT)}`);
    await client.query(
      `INSERT INTO trades_backlog_1 (exchange_id, symbol, ts, price, size) VALUES (1, 'OLD', '9999-12-31 23:00+00', 1, 1), (1, 'OLD', 'infinity', 1, 1)`,
    );
    const report = await ensurePartitions(testContext(url, { now: NOW }), { daysAhead: 3 });
    expect(report.tables.find((t) => t.table === 'trades')).toMatchObject({ status: 'ok', rows_unplaceable: 2 });
    const where = await client.query(`SELECT tableoid::regclass::text AS part FROM trades WHERE symbol = 'OLD'`);
    expect(where.rows).toEqual([{ part: 'trades_default' }, { part: 'trades_default' }]);
    expect(await client.query(`SELECT to_regclass('trades_backlog_1') AS t`).then((r) => r.rows[0]?.t)).toBeNull();
    await client.query(`DELETE FROM trades WHERE symbol = 'OLD'`);
  });

  it('reads partition bounds whatever the DateStyle', async () => {
    const client = await connect(url, { options: '-c DateStyle=SQL,DMY' });
    const parts = await listPartitions(client, 'tickers');
    expect(parts.find((p) => p.name === 'tickers_2026_06_16')?.from?.toISOString()).toBe('2026-06-16T00:00:00.000Z');
  });

  it('reads MINVALUE, MAXVALUE and DEFAULT bounds', async () => {
    const client = await connect(url);
    await client.query(`CREATE TABLE bounds_probe (ts timestamptz) PARTITION BY RANGE (ts)`);
    await client.query(`CREATE TABLE bounds_probe_old PARTITION OF bounds_probe FOR VALUES FROM (MINVALUE) TO ('2020-01-01 00:00+00')`);
    await client.query(
      `CREATE TABLE bounds_probe_day PARTITION OF bounds_probe FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-01-02 00:00+00')`,
    );
    await client.query(`CREATE TABLE bounds_probe_new PARTITION OF bounds_probe FOR VALUES FROM ('2020-01-02 00:00+00') TO (MAXVALUE)`);
    await client.query(`CREATE TABLE bounds_probe_default PARTITION OF bounds_probe DEFAULT`);
    const parts = await listPartitions(client, 'bounds_probe');
    await client.query('DROP TABLE bounds_probe');
    expect(parts.map((p) => [p.name, p.isDefault, p.from?.toISOString() ?? null, p.to?.toISOString() ?? null])).toEqual([
      ['bounds_probe_day', false, '2020-01-01T00:00:00.000Z', '2020-01-02T00:00:00.000Z'],
      ['bounds_probe_new', false, '2020-01-02T00:00:00.000Z', null],
      ['bounds_probe_default', true, null, null],
      ['bounds_probe_old', false, null, '2020-01-01T00:00:00.000Z'],
    ]);
  });

  it('refuses to run while another maintenance run holds the lock', async () => {
    const holder = await holdMaintenanceLock(url);
    try {
      await expect(ensurePartitions(testContext(url, { now: NOW }), { daysAhead: 3 })).rejects.toBeInstanceOf(LockBusyError);
    } finally {
      await holder.release();
    }
  });

  it('gives up on a table whose parent is locked by a long transaction, finishes the others, and fails at the end', async () => {
    const { error, elapsed } = await runWhileLocked<PartialFailureError>(url, 'LOCK TABLE trades IN SHARE MODE', () =>
      ensurePartitions(testContext(url, { now: NOW, settings: { lockTimeoutMs: 100, ddlAttempts: 2 } }), {
        daysAhead: 8,
      }),
    );
    expect(error).toBeInstanceOf(PartialFailureError);
    const report = error.report as PartitionsReport;
    const byTable = Object.fromEntries(report.tables.map((t) => [t.table, t]));
    expect(byTable.trades?.status).toBe('failed');
    expect(byTable.trades?.errors.join()).toMatch(/create trades_2026_06_22: could not get its lock within 100 ms in 2 attempts/);
    for (const table of TIME_SERIES_TABLES.filter((t) => t !== 'trades')) {
      expect(byTable[table]?.status).toBe('ok');
      expect(byTable[table]?.runway_days).toBe(8);
    }
    expect(error.message).toMatch(/partitions failed on trades/);
    // Bounded by attempts x lock_timeout plus backoff, not by the blocker's transaction.
    expect(elapsed).toBeLessThan(20_000);
    // A plain re-run after the blocker is gone completes.
    const rerun = await ensurePartitions(testContext(url, { now: NOW }), { daysAhead: 8 });
    expect(rerun.tables.every((t) => t.status === 'ok' && t.runway_days === 8)).toBe(true);
  });
  it('waits only briefly for the default partition while it holds inserts back, whatever the lock timeout', async () => {
    // A long reader of the default partition: the attach transaction, which already holds the
    // parent against inserts, must give up on the default quickly, not after DB_LOCK_TIMEOUT_MS.
    const { error, elapsed } = await runWhileLocked<PartialFailureError>(url, 'SELECT count(*) FROM orderbooks_default', () =>
      ensurePartitions(testContext(url, { now: NOW, settings: { lockTimeoutMs: 30_000, ddlAttempts: 2 } }), { daysAhead: 9 }),
    );
    expect(error).toBeInstanceOf(PartialFailureError);
    const report = error.report as PartitionsReport;
    expect(report.tables.find((t) => t.table === 'orderbooks')?.status).toBe('failed');
    expect(report.tables.filter((t) => t.table !== 'orderbooks').every((t) => t.status === 'ok')).toBe(true);
    // Two attempts of a 200 ms wait plus backoff; a 30 s lock timeout would take a minute.
    expect(elapsed).toBeLessThan(15_000);
    const rerun = await ensurePartitions(testContext(url, { now: NOW }), { daysAhead: 9 });
    expect(rerun.tables.every((t) => t.status === 'ok')).toBe(true);
  });
});
