import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliOutput, spawnCli } from '../support/cli';
import {
  connect,
  createTestDatabase,
  ensureGroupRoles,
  fingerprint,
  holdInTransaction,
  holdMaintenanceLock,
  ownerWithoutCreateRole,
  testPassword,
} from '../support/database';

// Every byte the runner printed in this file, errors and debug output included: the test
// server's password, which is in every URL given to it, never appears.
afterAll(() => {
  expect(cliOutput.length).toBeGreaterThan(40);
  expect(cliOutput.join('\n')).not.toContain(testPassword());
});

/** Nothing listens here: a command that connected would fail with exit code 3, not 2. */
const CLOSED = 'postgres://app:closed-port-pw@127.0.0.1:1/nowhere';

// Each rejected input, with its exact message, is a row of the "Rejected input" table in docs/rejected-input.md,
// run by bad-input.test.ts; these are the failures that need more than a message to check.
describe('local runner: unreachable databases and other failures before any work', () => {
  it('ends within seconds on an unreachable database, naming host and port, without a stack trace or password', async () => {
    const started = Date.now();
    const result = await cli(['stats', '--database-url', CLOSED]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^error: cannot connect to 127\.0\.0\.1:1\/nowhere: .*ECONNREFUSED.* \(URL from --database-url\)$/m);
    expect(result.stderr).not.toMatch(/closed-port-pw|\n\s+at /);
  });

  it('gives up within the connect timeout on a server that accepts but never answers', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const started = Date.now();
      const result = await cli(['stats', '--database-url', `postgres://app:silent-pw@127.0.0.1:${port}/perps`], {
        env: { DB_CONNECT_TIMEOUT_MS: '1500' },
      });
      const elapsed = Date.now() - started;
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}/perps: .*timeout`));
      expect(elapsed).toBeGreaterThanOrEqual(1400);
      expect(elapsed).toBeLessThan(10_000);
      expect(result.stderr).not.toContain('silent-pw');
    } finally {
      silent.close();
    }
  });

  it('says when the unreachable URL came from .env', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'perps-dotenv-'));
    writeFileSync(join(cwd, '.env'), `DATABASE_URL=${CLOSED}\n`);
    const result = await cli(['stats'], { cwd, env: { DATABASE_URL: 'postgres://ignored-host/db' } });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/cannot connect to 127\.0\.0\.1:1\/nowhere: .* \(URL from DATABASE_URL in \.env\)/);
  });

  it('refuses to open an embedded database another live run is using', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'perps-pglite-busy-'));
    writeFileSync(join(dir, 'perps-stats-db.lock'), String(process.pid));
    const result = await cli(['stats'], { env: { PERPS_EMBEDDED_DIR: dir } });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(new RegExp(`the embedded database in ${dir} is in use by another run \\(pid ${process.pid}\\)`));
  });

  it('exits with 2 as a process too', () => {
    const result = spawnCli(['partitions', '--days', '-1'], { cwd: mkdtempSync(join(tmpdir(), 'perps-cli-')) });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--days: must be a whole number/);
  });

  it('prints help and version', async () => {
    expect(await cli(['--help'])).toMatchObject({ code: 0, stdout: expect.stringContaining('Usage: npm run local -- [db] <command>') });
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: 'perps-stats-db 0.0.0-test\n' });
  });
});

describe('local runner against a real server', () => {
  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase();
  });

  it('says to run init first on a database without the schema', async () => {
    for (const command of [['stats'], ['partitions'], ['clean', '--older-than', '30']]) {
      const result = await cli([...command, '--database-url', url]);
      expect(result.code).toBe(5);
      expect(result.stderr).toMatch(
        /database perps_test_\w+ is missing the tables exchanges, markets, tickers, .*: the perps-stats schema is not installed; run `init`/,
      );
    }
  });

  it('runs the Lambda handlers: their metrics never reach stdout, and show on stderr at debug level', async () => {
    const written: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      written.push(String(chunk));
      return original(chunk, ...rest);
    }) as typeof process.stdout.write;
    const fresh = await createTestDatabase();
    let result: Awaited<ReturnType<typeof cli>>;
    try {
      await cli(['init', '--database-url', fresh]);
      result = await cli(['stats', '--format', 'json', '--database-url', fresh], { env: { PERPS_LOG_LEVEL: 'debug' } });
    } finally {
      process.stdout.write = original;
    }
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ operation: 'stats' });
    expect(written.join('')).not.toContain('"_aws"');
    const emf = result.stderr
      .split('\n')
      .filter((line) => line.startsWith('debug: metrics '))
      .map((line) => JSON.parse(line.slice('debug: metrics '.length)));
    expect(emf.map((doc) => doc.Table ?? doc.Operation ?? 'database')).toEqual([
      'stats',
      'database',
      'exchanges',
      'markets',
      'tickers',
      'orderbooks',
      'trades',
      'funding_rates',
      'ingest_events',
    ]);
    expect(result.stderr).toMatch(/^info: stats finished \{"duration_ms":\d+,"report":\{"operation":"stats"/m);
  });

  it('runs init, then stats as JSON alone on stdout', async () => {
    const init = await cli(['db', 'init', '--create-partitions-days', '2', '--database-url', url]);
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/migrate perps_test_\w+: 4 applied/);
    expect(init.stdout).toMatch(/tickers +ok +2 +0 +0 +2 d/);

    const stats = await cli(['stats', '--format', 'json'], { env: { DATABASE_URL: url } });
    expect(stats.code).toBe(0);
    const report = JSON.parse(stats.stdout);
    expect(report.tables.tickers).toMatchObject({ partitions: 2, runway_days: 2, row_count: 0 });
    expect(report.tables.exchanges.row_count).toBe(7);

    const table = await cli(['stats', '--database-url', url]);
    expect(table.stdout).toMatch(/^database perps_test_\w+: [\d.]+ MiB at /);
    expect(table.stdout).toMatch(/exchanges +7 /);
  });

  it('exits with 4 when another run holds the maintenance lock', async () => {
    const holder = await holdMaintenanceLock(url);
    const result = await cli(['partitions', '--database-url', url]);
    await holder.release();
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/another maintenance run .* holds the maintenance lock/);
  });

  it('previews and then runs a confirmed truncate', async () => {
    const client = await connect(url);
    await client.query(`INSERT INTO markets (exchange_id, symbol) VALUES (1, 'BTC-PERP')`);
    const before = await fingerprint(client, 'markets');
    const dry = await cli(['clean', '--truncate', '--dry-run', '--database-url', url]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/dry run: nothing was changed/);
    expect(await fingerprint(client, 'markets')).toEqual(before);
    const done = await cli(['clean', '--truncate', '--yes', '--format', 'json', '--database-url', url]);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout).rows_deleted.markets).toBe(1);
    expect((await fingerprint(client, 'markets')).rows).toBe(0);
  });

  it('asks for the database name on a terminal and truncates only when it is typed', async () => {
    const client = await connect(url);
    await client.query(`INSERT INTO markets (exchange_id, symbol) VALUES (2, 'ETH-PERP')`);
    const database = new URL(url).pathname.slice(1);
    const refused = await cli(['clean', '--truncate', '--database-url', url], { terminalInput: 'postgres\n' });
    expect(refused.code).toBe(2);
    // The prune handler's own dry run says which database it reached and what would go, before the prompt.
    expect(refused.stderr).toContain(`prune ${database} (dry run: nothing was changed)`);
    expect(refused.stderr).toMatch(/would remove rows: markets=1 /);
    expect(refused.stderr).toContain(`Type the database name (${database}) to confirm:`);
    expect(refused.stderr).toMatch(/not confirmed \(typed "postgres", expected "perps_test_\w+"\): nothing was changed/);
    expect((await fingerprint(client, 'markets')).rows).toBe(1);
    const confirmed = await cli(['clean', '--truncate', '--database-url', url], { terminalInput: `${database}\n` });
    expect(confirmed.code).toBe(0);
    expect((await fingerprint(client, 'markets')).rows).toBe(0);
  });

  it('honours sslmode in the URL', async () => {
    const required = new URL(url);
    required.searchParams.set('sslmode', 'require');
    const refused = await cli(['stats', '--database-url', required.toString()]);
    expect(refused.code).toBe(3); // the test server has no TLS: asking for it must fail, not be ignored
    expect(refused.stderr).toMatch(/The server does not support SSL connections/);
    required.searchParams.set('sslmode', 'disable');
    expect((await cli(['stats', '--database-url', required.toString()])).code).toBe(0);
  });

  it('shows progress on stderr when it is a terminal, and not otherwise', async () => {
    const fresh = await createTestDatabase();
    const watched = await cli(['init', '--create-partitions-days', '2', '--database-url', fresh], { terminalStderr: true });
    expect(watched.code).toBe(0);
    expect(watched.stderr).toContain('… applying 0001_schema.sql');
    expect(watched.stderr).toContain('… tickers: created tickers_');
    const piped = await cli(['partitions', '--days', '3', '--database-url', fresh]);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
  });

  it('prints the partial report and exits 1 when some tables failed', async () => {
    const blocker = await holdInTransaction(url, 'LOCK TABLE funding_rates IN SHARE MODE');
    const result = await cli(['partitions', '--days', '9', '--database-url', url], {
      env: { DB_LOCK_TIMEOUT_MS: '100', DB_DDL_ATTEMPTS: '1' },
    });
    await blocker.release();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^funding_rates +failed /m);
    expect(result.stdout).toMatch(/^tickers +ok +7 +2 /m);
    expect(result.stderr).toMatch(
      /^error: partitions failed on funding_rates \(create funding_rates_\d{4}_\d{2}_\d{2}(, funding_rates_\d{4}_\d{2}_\d{2}){6}: could not get its lock within 100 ms in 1 attempts[^\n]*\)$/m,
    );
    expect(result.stderr.trim().split('\n')).toHaveLength(1); // one line, not one per step
  });

  it("prints migrate's notices: here, the grants given to the existing roles by an owner that may not create roles", async () => {
    await ensureGroupRoles();
    const fresh = await createTestDatabase();
    const { role, url: asOwner } = await ownerWithoutCreateRole(fresh);
    const result = await cli(['migrate', '--database-url', asOwner]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `notice: granted perps_writer its missing privileges on database ${new URL(fresh).pathname.slice(1)}: `,
    );
    expect(result.stdout).toContain(`on the tables user ${role} creates later`);
  });
});

describe('local runner on the embedded database (PGlite)', () => {
  it('initialises and reports stats with no database configured', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'perps-pglite-'));
    // A lock left by a run that died (no such process) is taken over.
    mkdirSync(join(cwd, '.pglite'));
    writeFileSync(join(cwd, '.pglite', 'perps-stats-db.lock'), '999999999');
    const init = spawnCli(['init'], { cwd });
    expect(init.stderr).toMatch(/using the embedded PostgreSQL \(PGlite\) in .*\.pglite/);
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/4 applied/);
    const stats = spawnCli(['stats', '--format', 'json'], { cwd });
    expect(stats.code).toBe(0);
    const report = JSON.parse(stats.stdout);
    expect(report.tables.exchanges.row_count).toBe(7);
    expect(report.tables.trades.runway_days).toBe(7);
    expect(existsSync(join(cwd, '.pglite', 'perps-stats-db.lock'))).toBe(false);
  });
});
