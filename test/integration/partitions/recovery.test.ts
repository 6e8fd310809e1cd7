import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { migrate } from '../../../functions/operations/migrate/migrate';
import { ensurePartitions } from '../../../functions/operations/partitions/partitions';
import { OPERATIONS } from '../../../functions/operations/registry';
import { collectStats } from '../../../functions/operations/stats/stats';
import { DAY_MS } from '../../../functions/shared/days';
import { TIME_SERIES_TABLES } from '../../../functions/shared/tables';
import { HOLDS_INSERTS_BACK } from '../../support/blocking-locks';
import { connect, createTestDatabase, holdInTransaction, testContext } from '../../support/database';
import { interceptStatements } from '../../support/intercept';
import { dataFingerprint, seedDays } from '../../support/rows';
import { recordOutput } from '../../support/secret-guard';

/*
 * Recovery of a loaded DEFAULT partition, audited statement by statement: after each statement
 * of the maintenance session, a second session reads from pg_locks what that session's
 * transaction holds. Nothing that reads the backlog's rows may run while it holds a lock that
 * blocks inserts; the transactions that do hold one may only touch the catalog and the (kept
 * near-empty) DEFAULT partition.
 */

const NOW = new Date('2026-06-15T12:00:00Z');

/** Locks the session holds that hold inserts back (see HOLDS_INSERTS_BACK). */
const BLOCKING_LOCKS_SQL = `
  SELECT c.relname || ' ' || l.mode AS lock FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
   WHERE l.pid = $1 AND ${HOLDS_INSERTS_BACK} ORDER BY 1`;

/** Statements that read rows other than the DEFAULT partition's: a batch copying or moving rows, an index build, a foreign-key validation. */
const READS_ROWS = /^WITH (edge|batch) AS|^ALTER TABLE "[a-z_0-9]+" ADD PRIMARY KEY|^CREATE INDEX ON|VALIDATE CONSTRAINT/;

it('reads no row of the backlog while it holds a lock that blocks inserts, and places every row', async () => {
  const url = await createTestDatabase();
  const client = await connect(url);
  // The test server commits without flushing everywhere (for speed); a production server does
  // not, and what the run's own transactions ask for is checked below.
  await client.query(`ALTER DATABASE ${new URL(url).pathname.slice(1)} SET synchronous_commit = on`);
  const ctx = testContext(url, { now: NOW, settings: { batchSize: 100 } });
  await migrate(ctx);
  // Three past days and today wait in the DEFAULT partitions, with two rows no day can hold.
  await seedDays(client, { from: new Date(NOW.getTime() - 3 * DAY_MS), days: 4, rowsPerDay: 250 });
  await client.query(`INSERT INTO tickers (exchange_id, symbol, ts) VALUES (1, 'ODD', 'infinity'), (1, 'ODD', '12000-01-01')`);
  const before = await dataFingerprint(url);

  // Never waits long: a DEFAULT partition already locked at an ATTACH fails the test rather than hanging it.
  const monitor = await connect(url, { lock_timeout: 200 });
  const audit: Array<{ statement: string; blocking: string[] }> = [];
  // What ATTACH will scan while it holds inserts back: the rows in the DEFAULT partition just before.
  const scannedByAttach: number[] = [];
  // How each transaction that held inserts back commits: without waiting for the WAL flush.
  let holdingInserts = false;
  const holdingCommits: string[] = [];
  interceptStatements(ctx, {
    async before(text, _session, query) {
      if (text === 'COMMIT' && holdingInserts) {
        const setting = (await query(`SELECT current_setting('synchronous_commit') AS s`)) as { rows: { s: string }[] };
        holdingCommits.push(setting.rows[0]?.s ?? '');
      }
      if (/^(COMMIT|ROLLBACK)$/.test(text)) holdingInserts = false;
      const parent = /ALTER TABLE "([a-z_]+)" ATTACH PARTITION/.exec(text)?.[1];
      if (!parent) return;
      const counted = await monitor.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${parent}_default`).catch(() => undefined);
      // Locked already (before the fix, the transaction locked it statements earlier): counts as unbounded.
      scannedByAttach.push(counted?.rows[0]?.n ?? Number.POSITIVE_INFINITY);
    },
    async after(text, session) {
      if (/^(BEGIN|COMMIT|ROLLBACK)$/.test(text)) return;
      const pid = (session as unknown as { processID: number }).processID;
      const { rows } = await monitor.query<{ lock: string }>(BLOCKING_LOCKS_SQL, [pid]);
      audit.push({ statement: text, blocking: rows.map((r) => r.lock) });
      holdingInserts ||= rows.length > 0;
    },
  });
  const report = await ensurePartitions(ctx, { daysAhead: 2 });

  const reading = audit.filter((a) => READS_ROWS.test(a.statement));
  expect(reading.filter((a) => a.blocking.length > 0)).toEqual([]);
  const holding = audit.filter((a) => a.blocking.length > 0);
  expect(
    holding.filter((a) => /FROM "[a-z_]+_backlog_\d+"|WITH (edge|batch) AS|CREATE INDEX ON|VALIDATE CONSTRAINT/.test(a.statement)),
  ).toEqual([]);
  // The backlog was swapped out before any ATTACH: only the two rows no day can hold are ever
  // in a DEFAULT partition at an attach (before the fix: every row not yet moved).
  expect(scannedByAttach.length).toBe(4 * 5);
  expect(Math.max(...scannedByAttach)).toBeLessThanOrEqual(2);
  // Not vacuous: batches copied rows out of every backlog, and swaps, attaches and drops held locks.
  for (const table of TIME_SERIES_TABLES) {
    expect(reading.filter((a) => a.statement.includes(`FROM "${table}_backlog_1"`)).length).toBeGreaterThan(4);
  }
  for (const step of [/DETACH PARTITION/, /ATTACH PARTITION/, /ALTER TABLE "tickers_backlog_1" DROP CONSTRAINT/]) {
    expect(holding.some((a) => step.test(a.statement))).toBe(true);
  }
  // The backlog's DROP deletes files, so its commit waits for the WAL flush whatever it asks:
  // it holds nothing an insert waits for (its foreign keys went before, in their own transaction).
  const drops = audit.filter((a) => /DROP TABLE "[a-z_]+_backlog_1"/.test(a.statement));
  expect(drops).toHaveLength(4);
  expect(drops.filter((a) => a.blocking.length > 0)).toEqual([]);
  // Swaps, attaches, window days and backlog drops (4 tables x at least 3): none waited for its
  // WAL to reach the disk while inserts waited for it (see COMMIT_WITHOUT_FLUSH).
  expect(holdingCommits.length).toBeGreaterThanOrEqual(4 * 3);
  expect(holdingCommits.filter((setting) => setting !== 'off')).toEqual([]);

  // Every row is back in sight, each in its day's partition; the two odd ones in the default.
  for (const t of report.tables) {
    expect(t).toMatchObject({ status: 'ok', created: ['12', '13', '14', '15', '16'].map((d) => `${t.table}_2026_06_${d}`) });
  }
  expect(report.tables.find((t) => t.table === 'tickers')?.rows_unplaceable).toBe(2);
  expect(report.rows_moved).toBe(4 * 4 * 250);
  expect(await dataFingerprint(url)).toEqual(before);
  const { rows } = await client.query<{ part: string; n: number }>(
    `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM tickers GROUP BY 1 ORDER BY 1`,
  );
  expect(rows).toEqual([
    { part: 'tickers_2026_06_12', n: 250 },
    { part: 'tickers_2026_06_13', n: 250 },
    { part: 'tickers_2026_06_14', n: 250 },
    { part: 'tickers_2026_06_15', n: 250 },
    { part: 'tickers_default', n: 2 },
  ]);
  const left = await client.query(
    `SELECT relname FROM pg_class WHERE relname LIKE '%backlog%' OR obj_description(oid, 'pg_class') LIKE 'perps-stats-db:%'`,
  );
  expect(left.rows).toEqual([]);
});

it('puts in an empty DEFAULT partition with the indexes of the one it swapped out, which catches rows as before', async () => {
  const url = await createTestDatabase();
  const ctx = testContext(url, { now: NOW });
  await migrate(ctx);
  const client = await connect(url);
  const indexes = async () =>
    (
      await client.query<{ name: string; definition: string }>(
        `SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS definition FROM pg_index
          WHERE indrelid = 'trades_default'::regclass ORDER BY 1`,
      )
    ).rows;
  const original = await indexes();
  expect(original.map((i) => i.name)).toContain('idx_trades_default_ts');
  await seedDays(client, { from: new Date(NOW.getTime() - 2 * DAY_MS), days: 1, rowsPerDay: 10 });
  const report = await ensurePartitions(ctx, { daysAhead: 1 });
  expect(report.tables.find((t) => t.table === 'trades')?.created).toEqual(['trades_2026_06_13', 'trades_2026_06_15']);
  expect(await indexes()).toEqual(original);
  await client.query(`INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (1, 'LATER', '2030-01-01T00:00:00Z', 1, 1)`);
  const { rows } = await client.query(`SELECT tableoid::regclass::text AS part FROM trades WHERE symbol = 'LATER'`);
  expect(rows).toEqual([{ part: 'trades_default' }]);
});

it('waits out a vacuum of its own tables (autovacuum yields only after deadlock_timeout) instead of giving up at the lock timeout', async () => {
  const url = await createTestDatabase();
  const ctx = testContext(url, { now: NOW, settings: { lockTimeoutMs: 300, ddlAttempts: 1 } });
  await migrate(ctx);
  const client = await connect(url);
  await seedDays(client, { from: new Date(NOW.getTime() - DAY_MS), days: 1, rowsPerDay: 20 });
  // A vacuum of the emptied backlog, as autovacuum starts on a table that lost all its rows:
  // SHARE UPDATE EXCLUSIVE for 1.5 s, well past the 300 ms lock timeout.
  let vacuumed = false;
  interceptStatements(ctx, {
    async before(text) {
      if (vacuumed || !/^LOCK TABLE "tickers_backlog_1" IN ACCESS EXCLUSIVE/.test(text)) return;
      vacuumed = true;
      const vacuum = await holdInTransaction(url, 'LOCK TABLE tickers_backlog_1 IN SHARE UPDATE EXCLUSIVE MODE');
      setTimeout(() => void vacuum.release(), 1_500);
    },
  });
  const report = await ensurePartitions(ctx, { daysAhead: 1 });
  expect(vacuumed).toBe(true);
  expect(report.tables.map((t) => t.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
  expect((await client.query(`SELECT 1 FROM pg_class WHERE relname LIKE '%\\_backlog\\_%'`)).rowCount).toBe(0);
});

it('says, when Ctrl-C interrupts the runner mid-recovery, how many rows of which table wait out of sight and what to run; stats shows them; the next run brings them back', async () => {
  const url = await createTestDatabase();
  const client = await connect(url);
  await migrate(testContext(url));
  // Two past days of rows wait in the DEFAULT partitions; copied a row a batch, the recovery
  // takes long enough for the interrupt to come in mid-way.
  const perTable = 2 * 400;
  await seedDays(client, { from: new Date(Date.now() - 4 * DAY_MS), days: 2, rowsPerDay: 400 });
  const before = await dataFingerprint(url);
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const runner = spawn(`${root}node_modules/.bin/tsx`, [`${root}functions/cli/main.ts`, 'partitions'], {
    cwd: mkdtempSync(join(tmpdir(), 'perps-interrupt-')),
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: process.env.TMPDIR,
      DATABASE_URL: url,
      MAINTENANCE_BATCH_SIZE: '1',
      PERPS_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  runner.stdout.on('data', (chunk) => {
    stdout += String(chunk);
  });
  // 'close', not 'exit': the last lines may still be in the pipes when the process exits.
  const exited = new Promise<number | null>((resolve) => runner.once('close', resolve));
  // Ctrl-C once the first DEFAULT partition (tickers') is swapped out: its rows are out of sight.
  // Once only: a second Ctrl-C kills it at once.
  await new Promise<void>((resolve) => {
    let sent = false;
    runner.stderr.on('data', (chunk) => {
      stderr += String(chunk);
      if (!sent && stderr.includes('default partition swapped out')) {
        sent = runner.kill('SIGINT');
        resolve();
      }
    });
  });
  const code = await exited;
  recordOutput('interrupted runner stderr', stderr);
  const visible = Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM tickers')).rows[0]?.n);
  const hidden = perTable - visible;
  expect(hidden).toBeGreaterThan(0);
  expect(code).toBe(130);
  expect(stderr).toContain('interrupted: stopping before the next step');
  const error = stderr.split('\n').find((line) => line.startsWith('error: '));
  expect(error).toMatch(
    /^error: stopped before .* \(tickers\): the run was interrupted \(Ctrl-C or SIGTERM\)\. Every step before it is complete/,
  );
  expect(error).toMatch(
    new RegExp(
      `\\. ${hidden} rows of tickers \\(in tickers_backlog_1(, tickers_\\d{4}_\\d{2}_\\d{2})?\\) wait out of sight of queries on their tables: run partitions again to bring them back \\(\`npm run local -- partitions\`, or invoke the partitions function with \\{\\}\\); the hourly partitions schedule does so within the hour$`,
    ),
  );
  expect(stdout).toContain(`out of sight: ${hidden} rows of tickers in tickers_backlog_1`);

  // stats counts them apart from the rows in sight, and publishes them.
  const stats = await collectStats(testContext(url));
  expect(stats.tables.tickers).toMatchObject({ row_count: visible, backlog_rows: hidden });
  expect((stats.tables.tickers as { backlog_tables: string[] }).backlog_tables[0]).toBe('tickers_backlog_1');
  expect(OPERATIONS.stats.metrics(stats, { dataAge: true }).database).toMatchObject({ BacklogRows: hidden });

  const rerun = await ensurePartitions(testContext(url), { daysAhead: 3 });
  expect(rerun.tables.every((t) => t.status === 'ok')).toBe(true);
  expect(rerun.rows_out_of_sight).toEqual([]);
  expect(await dataFingerprint(url)).toEqual(before);
  const after = await collectStats(testContext(url));
  expect(TIME_SERIES_TABLES.map((table) => (after.tables[table] as { backlog_rows: number }).backlog_rows)).toEqual([0, 0, 0, 0]);
});
