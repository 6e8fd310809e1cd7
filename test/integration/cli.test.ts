import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect as connectTcp, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDatabase } from '../../functions/cli/embedded';
import { PASSWORD_ON_COMMAND_LINE } from '../../functions/cli/settings';
import { DAY_MS, dayOf } from '../../functions/shared/days';
import { parseDatabaseUrl } from '../../functions/shared/db/settings';
import { publishesSizeMetrics } from '../../functions/shared/metric-names';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { cli, spawnCli } from '../support/cli';
import {
  connect,
  createTestDatabase,
  databaseState,
  ensureGroupRoles,
  fingerprint,
  holdInTransaction,
  holdMaintenanceLock,
  loginRole,
  ownerWithoutCreateRole,
} from '../support/database';
import { capturingWarnings } from '../support/output';
import { seedDays } from '../support/rows';
import { registerSecret } from '../support/secret-guard';
import { startTestServer } from '../support/server';

// Besides the test server's password (in every URL given to the runner), the suite-wide guard
// fails this file if these show up in anything the runner printed, errors and debug output included.
registerSecret('closed-port-pw', 'the password of the closed-port URL');
registerSecret('silent-pw', 'the password of the silent-server URL');

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

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

  it('gives up within the connect timeout, once, on a server that accepts but never answers, and says which variable sets it', async () => {
    let connections = 0;
    const silent = createServer(() => {
      connections += 1;
    });
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
      // One attempt: a connect that timed out is not a session lost while idle, which is retried.
      expect(connections).toBe(1);
      expect(result.stderr).toMatch(/did not answer within DB_CONNECT_TIMEOUT_MS \(1500 ms\)/);
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
    expect((await cli(['help'])).stdout).toContain('Usage: npm run local -- [db] <command>');
  });

  it("prints one command's help for `<command> --help` and `help <command>`, from the registry", async () => {
    const partitions = await cli(['partitions', '--help']);
    expect(partitions.code).toBe(0);
    expect(partitions.stdout).toBe((await cli(['help', 'partitions'])).stdout);
    expect(partitions.stdout).toMatch(/^Usage: npm run local -- partitions \[--days N\] \[--database-url URL\] \[--format table\|json\]\n/);
    expect(partitions.stdout).toContain('--days N                          days of partitions from today (UTC), default 7');
    expect(partitions.stdout).toContain('  npm run local -- partitions --days 30\n');
    expect(partitions.stdout).toContain('  DB_LOCK_TIMEOUT_MS                longest wait for a table lock per DDL attempt (default 1000)');
    expect(partitions.stdout).toContain('Runs as: the owner of the tables');
    expect(partitions.stdout).toContain('6 the login lacks a privilege');
    expect(partitions.stdout).not.toContain('Commands:');

    const clean = await cli(['db', 'help', 'clean']);
    expect(clean.stdout).toMatch(
      /^Usage: npm run local -- clean \[--older-than N\] \[--drop-partitions-older-than N\] \[--truncate \[--yes\]\] \[--dry-run\]/,
    );
    expect(clean.stdout).toContain('(also called prune)');
    expect(clean.stdout).toContain('  npm run local -- clean --older-than 90 --dry-run\n');
    expect(clean.stdout).toContain('MAINTENANCE_BATCH_SIZE');
    const stats = await cli(['stats', '--help']);
    expect(stats.stdout).toContain('Runs as: any login with SELECT on the tables (perps_reader)');
    expect(stats.stdout).not.toContain('DB_LOCK_TIMEOUT_MS');
    const init = await cli(['init', '--help']);
    expect(init.stdout).toContain('--create-partitions-days N        days of partitions from today (UTC), default 7; --days N is the same');
    expect(init.stdout).toContain('  npm run local -- init --create-partitions-days 14\n');
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
      // The suggested command reaches the same database, without the password.
      const parsed = parseDatabaseUrl(url);
      parsed.password = '';
      expect(result.stderr).toContain(`\`npm run local -- init --database-url ${parsed.toString()}\``);
    }
  });

  it('leaves a password given in the query string out of the suggested command too', async () => {
    const inQuery = parseDatabaseUrl(url);
    const password = decodeURIComponent(inQuery.password);
    inQuery.password = '';
    inQuery.searchParams.set('password', password);
    const result = await cli(['stats', '--database-url', inQuery.toString()]);
    expect(result.code).toBe(5);
    inQuery.searchParams.delete('password');
    expect(result.stderr).toContain(`\`npm run local -- init --database-url ${inQuery.toString()}\``);
    expect(result.stderr).not.toContain(password);
  });

  it('refuses, before anything runs, flags npm took for itself (`npm run local prune --dry-run`, no `--`)', async () => {
    const fingerprintBefore = await cli(['stats', '--format', 'json', '--database-url', url]);
    // What npm hands the runner for `npm run local clean --older-than 30 --dry-run --database-url URL`.
    const result = await cli(['clean', '30', url], {
      env: {
        npm_lifecycle_event: 'local',
        npm_config_older_than: 'true',
        npm_config_dry_run: 'true',
        npm_config_database_url: 'true',
        npm_config_yes: '',
      },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'error: npm took --database-url, --dry-run, --older-than as its own options, because the flags came before `--`: nothing was run; put `--` between `npm run local` and the command (`npm run local -- clean --flag value`)\n',
    );
    expect((await cli(['stats', '--format', 'json', '--database-url', url])).stdout).toBe(fingerprintBefore.stdout);
    // npm rewrote --format to its own --format-package-lock and passed the value on: the parse error says why.
    const format = await cli(['stats', 'json'], { env: { npm_lifecycle_event: 'local', npm_config_yes: '' } });
    expect(format.code).toBe(2);
    expect(format.stderr).toContain(
      'if you gave flags, npm kept them for itself: put `--` between `npm run local` and the command (`npm run local -- stats --flag value`)',
    );
    // Outside npm, the same words are the runner's own business.
    expect((await cli(['stats', 'json'])).stderr).not.toContain('npm kept them');
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
    const report = JSON.parse(result.stdout) as { operation: string; fetched_at: string };
    expect(report).toMatchObject({ operation: 'stats' });
    expect(written.join('')).not.toContain('"_aws"');
    const emf = result.stderr
      .split('\n')
      .filter((line) => line.startsWith('debug: metrics '))
      .map((line) => JSON.parse(line.slice('debug: metrics '.length)));
    // Per table only in the size hours (the first minutes of every 6th hour); no exchange has rows yet.
    const tables = ['exchanges', 'markets', 'tickers', 'orderbooks', 'trades', 'funding_rates', 'ingest_events'];
    expect(emf.map((doc) => doc.Table ?? doc.Operation ?? 'database')).toEqual([
      'stats',
      'database',
      ...(publishesSizeMetrics(new Date(report.fetched_at)) ? tables : []),
    ]);
    expect(result.stderr).toMatch(/^info: stats finished \{"duration_ms":\d+,"report":\{"operation":"stats"/m);
  });

  it('runs init, then stats as JSON alone on stdout', async () => {
    const init = await cli(['db', 'init', '--create-partitions-days', '2', '--database-url', url]);
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/migrate perps_test_\w+: 8 applied/);
    expect(init.stdout).toMatch(/tickers +ok +2 +0 +0 +2 d/);

    const stats = await cli(['stats', '--format', 'json'], { env: { DATABASE_URL: url } });
    expect(stats.code).toBe(0);
    const report = JSON.parse(stats.stdout);
    expect(report.tables.tickers).toMatchObject({ partitions: 2, runway_days: 2, row_count: 0 });
    expect(report.tables.exchanges.row_count).toBe(7);
    // A fresh database has no closed day partition to measure growth by: null, not 0.
    expect(report.database.growth_bytes_per_day).toBeNull();
    const limited = await cli(['stats', '--storage-limit', '1.5GiB', '--format', 'json'], { env: { DATABASE_URL: url } });
    expect(JSON.parse(limited.stdout).database.storage_limit_bytes).toBe(1.5 * 1024 ** 3);

    const table = await cli(['stats', '--database-url', url]);
    expect(table.stdout).toMatch(/^database perps_test_\w+: [\d.]+ MiB, growth not measured yet \(no closed day partition\), at /);
    expect(table.stdout).toMatch(/exchanges +7 /);
  });

  it('says how to create a database that does not exist', async () => {
    const missing = new URL(url);
    missing.pathname = '/perps_no_such_db';
    const result = await cli(['stats', '--database-url', missing.toString()]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      `database "perps_no_such_db" does not exist. The server is up, but has no database perps_no_such_db: create it with \`createdb -h ${missing.hostname} -p ${missing.port} perps_no_such_db\``,
    );
    expect(result.stderr).not.toContain('Check that the server is running');
  });

  it('names its target on stderr (never the password), keeps JSON stdout clean and ends stdout with a newline', async () => {
    const { host, pathname } = new URL(url);
    const stats = await cli(['stats', '--database-url', url]);
    expect(stats.code).toBe(0);
    expect(stats.stderr).toBe(`target: ${host}${pathname} as postgres (URL from --database-url)\n${PASSWORD_ON_COMMAND_LINE}\n`);
    expect(stats.stdout.endsWith('\n')).toBe(true);
    const json = await cli(['stats', '--format', 'json'], { env: { DATABASE_URL: url } });
    expect(JSON.parse(json.stdout)).toMatchObject({ operation: 'stats' });
    expect(json.stdout.endsWith('}\n')).toBe(true);
    expect(json.stderr).toBe(`target: ${host}${pathname} as postgres (URL from DATABASE_URL in the environment)\n`);
  });

  it('says when .env overrides a different DATABASE_URL in the environment', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'perps-dotenv-'));
    writeFileSync(join(cwd, '.env'), `DATABASE_URL=${url}\n`);
    const result = await cli(['stats'], { cwd, env: { DATABASE_URL: CLOSED } });
    expect(result.code).toBe(0);
    const { host, pathname } = new URL(url);
    expect(result.stderr.split('\n')).toEqual([
      `target: ${host}${pathname} as postgres (URL from DATABASE_URL in .env)`,
      'note: DATABASE_URL in .env overrides DATABASE_URL in the environment (127.0.0.1:1/nowhere as app); .env wins',
      '',
    ]);
    // The same URL in both places is no override worth a line.
    const same = await cli(['stats'], { cwd, env: { DATABASE_URL: url } });
    expect(same.stderr).not.toContain('note:');
  });

  it('warns that a password in --database-url shows in ps, and not for a URL without one or from the environment', async () => {
    const withPassword = await cli(['stats', '--database-url', url]);
    expect(withPassword.stderr.split('\n')[1]).toBe(
      'warning: the password in --database-url can be read by every user of this machine (ps) while the run lasts: put the URL in .env or in the DATABASE_URL variable, or leave the password out of it and set PGPASSWORD',
    );
    // PGPASSWORD instead: node-postgres reads it from the environment, which other users cannot see.
    const bare = new URL(url);
    const password = decodeURIComponent(bare.password);
    bare.password = '';
    // A process of its own: node-postgres reads PGPASSWORD from the process environment.
    const withoutPassword = spawnCli(['stats', '--database-url', bare.toString()], { cwd: tmpdir(), env: { PGPASSWORD: password } });
    expect(withoutPassword.code).toBe(0);
    expect(withoutPassword.stderr).not.toContain('warning:');
    const fromEnvironment = await cli(['stats'], { env: { DATABASE_URL: url } });
    expect(fromEnvironment.stderr).not.toContain('warning:');
  });

  it('refuses a destructive run while .env and the environment name different databases; --database-url decides', async () => {
    const dotenvDb = await createTestDatabase();
    const environmentDb = await createTestDatabase();
    for (const db of [dotenvDb, environmentDb]) {
      expect((await cli(['init', '--days', '2', '--database-url', db])).code).toBe(0);
      const client = await connect(db);
      await client.query(`INSERT INTO markets (exchange_id, symbol) VALUES (1, 'BTC-PERP')`);
      await client.end();
    }
    const cwd = mkdtempSync(join(tmpdir(), 'perps-dotenv-'));
    writeFileSync(join(cwd, '.env'), `DATABASE_URL=${dotenvDb}\n`);
    const [inDotenv, inEnvironment] = [dotenvDb, environmentDb].map((db) => `${new URL(db).host}${new URL(db).pathname} as postgres`);
    const before = await Promise.all([databaseState(dotenvDb), databaseState(environmentDb)]);
    for (const argv of [
      ['clean', '--truncate', '--yes'],
      ['clean', '--older-than', '1'],
      ['clean', '--drop-partitions-older-than', '1'],
    ]) {
      const refused = await cli(argv, { cwd, env: { DATABASE_URL: environmentDb } });
      expect({ code: refused.code, stdout: refused.stdout, stderr: refused.stderr }).toEqual({
        code: 2,
        stdout: '',
        stderr: `error: clean would delete or replace rows, but DATABASE_URL in .env (${inDotenv}) and DATABASE_URL in the environment (${inEnvironment}) name different databases, and .env wins: nothing was changed; give the database to change with --database-url, or make the two agree\n`,
      });
    }
    expect(await Promise.all([databaseState(dotenvDb), databaseState(environmentDb)])).toEqual(before);
    // What changes nothing still runs there, with the note; .env keeps its precedence.
    const preview = await cli(['clean', '--truncate', '--dry-run'], { cwd, env: { DATABASE_URL: environmentDb } });
    expect(preview.code).toBe(0);
    expect(preview.stderr).toContain('; .env wins');
    expect(preview.stdout).toContain(`prune ${new URL(dotenvDb).pathname.slice(1)} (dry run`);
    // The same URL in both places is no conflict; and --database-url names the target beyond doubt.
    const same = await cli(['clean', '--truncate', '--yes'], { cwd, env: { DATABASE_URL: dotenvDb } });
    expect(same.code).toBe(0);
    const named = await cli(['clean', '--truncate', '--yes', '--database-url', environmentDb], {
      cwd,
      env: { DATABASE_URL: environmentDb },
    });
    expect(named.code).toBe(0);
    for (const db of [dotenvDb, environmentDb]) {
      const client = await connect(db);
      expect((await fingerprint(client, 'markets')).rows).toBe(0);
      await client.end();
    }
  });

  it('reaches a database whose name has reserved characters written %3B or %23, and names it right when it is missing', async () => {
    const base = new URL(url);
    const named = (encoded: string) => `${base.protocol}//${base.username}:${base.password}@${base.host}/${encoded}`;
    const missing = await cli(['stats', '--database-url', named('perps_no%3Bsuch')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain(
      `database "perps_no;such" does not exist. The server is up, but has no database perps_no;such: create it with \`createdb -h ${base.hostname} -p ${base.port} 'perps_no;such'\``,
    );
    for (const name of ['perps_semi;colon', 'perps_hash#sign']) await createTestDatabase(name);
    for (const [encoded, name] of [
      ['perps_semi%3Bcolon', 'perps_semi;colon'],
      ['perps_semi;colon', 'perps_semi;colon'],
      ['perps_hash%23sign', 'perps_hash#sign'],
    ]) {
      const result = await cli(['migrate', '--database-url', named(encoded ?? '')]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.split('\n')[0]).toMatch(new RegExp(`^migrate ${name}: `));
    }
  });

  it('takes --days and --create-partitions-days with both init and partitions', async () => {
    const fresh = await createTestDatabase();
    expect((await cli(['init', '--days', '2', '--database-url', fresh])).stdout).toMatch(/tickers +ok +2 +0 +0 +2 d/);
    expect((await cli(['partitions', '--create-partitions-days', '3', '--database-url', fresh])).stdout).toMatch(
      /tickers +ok +1 +2 +0 +3 d/,
    );
  });

  it('invokes a handler with a JSON payload, the scheduled defaults from the environment applied as in Lambda', async () => {
    const url = await createTestDatabase();
    expect((await cli(['init', '--database-url', url])).code).toBe(0);
    const scheduled = await cli(['invoke', 'prune', '--payload', '{"dryRun": true}', '--format', 'json', '--database-url', url], {
      env: { PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS: '180' },
    });
    expect(scheduled.code).toBe(0);
    const report = JSON.parse(scheduled.stdout);
    expect(report).toMatchObject({ operation: 'prune', dry_run: true, delete_before: null });
    const dayMs = 86_400_000;
    expect(Date.parse(report.drop_before)).toBe(Math.floor(Date.now() / dayMs) * dayMs - 180 * dayMs);

    // clean --dry-run with no retention flag previews the same scheduled retention; a real run still needs its flags.
    const preview = await cli(['clean', '--dry-run', '--format', 'json', '--database-url', url], {
      env: { PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS: '180' },
    });
    expect(preview.code).toBe(0);
    expect(JSON.parse(preview.stdout)).toMatchObject({ dry_run: true, delete_before: null, drop_before: report.drop_before });
    const real = await cli(['clean', '--database-url', url], { env: { PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS: '180' } });
    expect(real.code).toBe(2);
    expect(real.stderr).toMatch(/nothing to prune: give --older-than N/);

    const cwd = mkdtempSync(join(tmpdir(), 'perps-event-'));
    writeFileSync(join(cwd, 'event.json'), '{}');
    const stats = await cli(['invoke', 'stats', '--event', 'event.json', '--database-url', url], { cwd });
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/^database perps_test_\w+: /);

    const holder = await holdMaintenanceLock(url);
    try {
      const skipped = await cli(['invoke', 'partitions', '--payload', '{"whenLocked": "skip"}', '--database-url', url]);
      expect(skipped.code).toBe(0);
      expect(skipped.stdout).toMatch(/^partitions skipped: partitions: another maintenance run .* holds the maintenance lock/);
    } finally {
      await holder.release();
    }
  });

  it('sample-data inserts rows on several exchanges and symbols, some in the DEFAULT partition, and stats shows them', async () => {
    const fresh = await createTestDatabase();
    expect((await cli(['init', '--database-url', fresh])).code).toBe(0);
    const result = await cli(['sample-data', '--days', '2', '--format', 'json', '--database-url', fresh]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({
      code: 0,
      stderr: expect.stringMatching(/^target: [^\n]*\nwarning: [^\n]*\n$/),
    });
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ operation: 'sample-data', days: 2 });
    const client = await connect(fresh);
    try {
      const { rows } = await client.query<{ exchanges: number; symbols: number; in_default: number; future: number; markets: number }>(
        `SELECT count(DISTINCT exchange_id)::int AS exchanges, count(DISTINCT symbol)::int AS symbols,
                (SELECT count(*)::int FROM tickers_default) AS in_default,
                count(*) FILTER (WHERE ts > now())::int AS future,
                (SELECT count(*)::int FROM markets) AS markets
           FROM trades`,
      );
      expect(rows[0]).toMatchObject({ exchanges: 3, symbols: 3, future: 0, markets: 9 });
      // Yesterday has no partition after init: those rows are in the DEFAULT partition, as a late ingester's would be.
      expect(rows[0]?.in_default).toBeGreaterThanOrEqual(9 * 1440);
      for (const table of ['tickers', 'orderbooks', 'trades', 'funding_rates', 'ingest_events']) {
        const { rows: counted } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
        expect(report.rows[table]).toBe(counted[0]?.n);
        expect(counted[0]?.n).toBeGreaterThan(0);
      }
    } finally {
      await client.end();
    }
    const stats = await cli(['stats', '--format', 'json', '--database-url', fresh]);
    expect(JSON.parse(stats.stdout).tables.trades.default_rows).toBeGreaterThan(0);
    expect(JSON.parse(stats.stdout).tables.trades.row_count).toBeGreaterThan(0);
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
    const database = new URL(url).pathname.slice(1);
    expect(done.stderr).toContain(
      `--truncate empties markets and every data table of ${new URL(url).host}/${database}: confirmed by --yes (database ${database}).`,
    );
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

  it("honours sslmode in the URL, in one line and without node-postgres's security warning", async () => {
    const required = new URL(url);
    required.searchParams.set('sslmode', 'require');
    // node-postgres would warn that it reads sslmode=require as verify-full; the runner passes it
    // on as verify-full, so no warning is printed at all.
    const { value: refused, warnings } = await capturingWarnings(() => cli(['stats', '--database-url', required.toString()]));
    expect(warnings).toEqual([]);
    expect(refused.code).toBe(3); // the test server has no TLS: asking for it must fail, not be ignored
    expect(refused.stderr.split('\n')).toEqual([
      expect.stringMatching(/^target: /),
      PASSWORD_ON_COMMAND_LINE,
      expect.stringMatching(
        /^error: cannot connect to [^ ]+: The server does not support SSL connections\. Enable ssl on the server, or set DB_SSL=disable \(or sslmode=disable in the URL\) on a network you trust\. \(URL from --database-url\)$/,
      ),
      '',
    ]);
    required.searchParams.set('sslmode', 'disable');
    expect((await cli(['stats', '--database-url', required.toString()])).code).toBe(0);
  });

  describe('progress of long work on stderr', () => {
    /** A migrated database whose DEFAULT partitions hold 3 past days of 300 rows a table: recovery's work. */
    const waitingRows = async (): Promise<string> => {
      const fresh = await createTestDatabase();
      expect((await cli(['migrate', '--database-url', fresh])).code).toBe(0);
      const client = await connect(fresh);
      await seedDays(client, { from: dayOf(new Date(Date.now() - 3 * DAY_MS)), days: 3, rowsPerDay: 300 });
      await client.end();
      return fresh;
    };
    const targetLines = (fresh: string) => [
      `target: ${new URL(fresh).host}${new URL(fresh).pathname} as postgres (URL from --database-url)`,
      PASSWORD_ON_COMMAND_LINE,
    ];
    const finalLine = (table: string) => new RegExp(`^recovery ${table}: placed 900 rows in \\d+s( \\([\\d,]+ rows/s\\))?$`);

    it('on a terminal: one line per table redrawn in place, its final line kept', async () => {
      const fresh = await waitingRows();
      const watched = await cli(['partitions', '--days', '2', '--database-url', fresh], { terminalStderr: true });
      expect(watched.code).toBe(0);
      // Redrawn in place from its first line. The total is the catalog's estimate, which the
      // statistics collector may not have yet so soon after the seeding (PostgreSQL 12 often not):
      // then the line has no total.
      const firstDraw = '\r\x1b[2Krecovery trades: 0 ';
      expect(watched.stderr).toContain(firstDraw);
      expect(watched.stderr.split(firstDraw)[1]).toMatch(/^(of ~[\d,]+ )?rows/);
      // What the screen keeps: each row as the last redraw left it.
      const screen = watched.stderr.split('\n').map((row) => row.split('\r\x1b[2K').at(-1));
      expect(screen).toEqual([...targetLines(fresh), ...TIME_SERIES_TABLES.map((table) => expect.stringMatching(finalLine(table))), '']);
    });

    it('without a terminal: a line every few seconds at most, and the final line of each table', async () => {
      const fresh = await waitingRows();
      const piped = await cli(['partitions', '--days', '2', '--database-url', fresh]);
      expect(piped.code).toBe(0);
      expect(piped.stderr).not.toContain('\r');
      const lines = piped.stderr.split('\n').slice(2, -1);
      expect(piped.stderr.split('\n').slice(0, 2)).toEqual(targetLines(fresh));
      for (const table of TIME_SERIES_TABLES) {
        expect(lines.filter((line) => finalLine(table).test(line))).toHaveLength(1);
      }
      // A run longer than the interval also has lines on the way; each says rows done so far.
      const onTheWay = lines.filter((line) => !TIME_SERIES_TABLES.some((table) => finalLine(table).test(line)));
      for (const line of onTheWay) expect(line).toMatch(/^recovery [a-z_]+: [\d,]+ (of ~?[\d,]+ )?rows/);
    });

    it('with --format json: no progress at all', async () => {
      const fresh = await waitingRows();
      const json = await cli(['partitions', '--days', '2', '--format', 'json', '--database-url', fresh], { terminalStderr: true });
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout).tables.map((t: { rows_moved: number }) => t.rows_moved)).toEqual(TIME_SERIES_TABLES.map(() => 900));
      expect(json.stderr).toBe(`${targetLines(fresh).join('\n')}\n`);
    });
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
    // The target line (and the password's warning), then one error line, not one per step.
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^target: /),
      PASSWORD_ON_COMMAND_LINE,
      expect.stringMatching(/^error: /),
    ]);
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

describe('local runner as a login that lacks privileges', () => {
  let url: string;
  let writer: string;
  let reader: string;
  let stranger: string;
  beforeAll(async () => {
    await ensureGroupRoles();
    url = await createTestDatabase();
    expect((await cli(['init', '--database-url', url])).code).toBe(0);
    const admin = await connect(url);
    const writerLogin = await loginRole(admin, url, 'perps_ingester');
    const readerLogin = await loginRole(admin, url, 'perps_grafana');
    const strangerLogin = await loginRole(admin, url, 'perps_stranger');
    await admin.query(`GRANT perps_writer TO ${writerLogin.role}`);
    await admin.query(`GRANT perps_reader TO ${readerLogin.role}`);
    await admin.end();
    ({ url: writer } = writerLogin);
    ({ url: reader } = readerLogin);
    ({ url: stranger } = strangerLogin);
  });

  /** The one error line of a run: what follows the target line (and the warning that the URL's password shows in ps, tested above). */
  const errorLines = (stderr: string) =>
    stderr.split('\n').filter((line) => line !== '' && !line.startsWith('target: ') && line !== PASSWORD_ON_COMMAND_LINE);

  it.each([
    ['migrate as the writer', ['migrate'], () => writer],
    ['partitions as the reader', ['partitions'], () => reader],
    ['clean as the writer', ['clean', '--older-than', '30'], () => writer],
    ['clean --truncate as the writer', ['clean', '--truncate', '--yes'], () => writer],
  ])('%s: one line naming the missing privilege and the role, exit 6, nothing changed', async (_, command, login) => {
    const before = await databaseState(url);
    const result = await cli([...command, '--database-url', login()]);
    expect(result.code).toBe(6);
    expect(result.stdout).toBe('');
    const role = new URL(login()).username;
    expect(errorLines(result.stderr)).toEqual([
      `error: ${command[0] === 'clean' ? 'prune' : command[0]} needs the owner of the perps-stats tables, and login ${role} lacks the CREATE privilege on schema "public" and ownership of exchanges, markets, tickers, orderbooks, trades, funding_rates, ingest_events, perps_schema_migrations (owned by postgres): run it as the role that ran migrate (or a member of it); perps_writer and perps_reader logins may only write or read rows, and stats is the command a reader may run`,
    ]);
    expect(await databaseState(url)).toEqual(before);
  });

  it('sample-data as the writer: one line naming the missing privilege and the login it needs, exit 6, nothing changed', async () => {
    const before = await databaseState(url);
    const result = await cli(['sample-data', '--database-url', writer]);
    expect(result.code).toBe(6);
    expect(errorLines(result.stderr)).toEqual([
      expect.stringMatching(
        /^error: sample-data: permission denied for table \w+: run it as the role that ran migrate \(the owner of the tables\)$/,
      ),
    ]);
    expect(await databaseState(url)).toEqual(before);
  });

  it('stats: the reader is enough; a login without perps_reader is told to get it', async () => {
    expect((await cli(['stats', '--database-url', reader])).code).toBe(0);
    // Issue 22 point 8: migrate revoked CONNECT from PUBLIC, so a login in no perps group is
    // refused at the door (before, it connected and was told it lacked SELECT on the tables).
    const refused = await cli(['stats', '--database-url', stranger]);
    expect(refused.code).toBe(6);
    const { username: role, hostname, port, pathname } = new URL(stranger);
    const database = pathname.slice(1);
    expect(errorLines(refused.stderr)).toEqual([
      `error: cannot connect to ${hostname}:${port}/${database} as ${role}: permission denied for database "${database}". Only perps_reader, perps_writer and the owner may connect (see README, Roles): make the login a member of one (GRANT perps_reader TO "${role}"), or have the owner run GRANT CONNECT ON DATABASE "${database}" TO "${role}"`,
    ]);
  });

  it('stats: a login that may connect but lacks perps_reader is told to get it', async () => {
    const admin = await connect(url);
    const role = new URL(stranger).username;
    await admin.query(`GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(new URL(url).pathname.slice(1))} TO ${pg.escapeIdentifier(role)}`);
    const refused = await cli(['stats', '--database-url', stranger]);
    expect(refused.code).toBe(6);
    expect(errorLines(refused.stderr)).toEqual([
      `error: stats needs SELECT on the perps-stats tables, and login ${role} lacks it on exchanges, markets, tickers, orderbooks, trades, funding_rates, ingest_events, job_runs: run it as a login in perps_reader (GRANT perps_reader TO "${role}") or as the owner`,
    ]);
  });
});

describe('local runner over a Unix socket', () => {
  it('accepts a socket URL with an empty host and ?host=<directory>, as libpq and node-postgres do', async () => {
    // Under /tmp, not TMPDIR: a socket path is at most 107 bytes, and the matrix run nests the
    // test's TMPDIR three directories deep (the server then refuses to start).
    const sockets = mkdtempSync('/tmp/perps-socket-');
    chmodSync(sockets, 0o777); // the server may run as the unprivileged user the package creates
    const server = await startTestServer({ postgresFlags: ['-c', `unix_socket_directories=${sockets}`] });
    try {
      const { username, password, port } = new URL(server.url);
      const socketUrl = `postgres://${username}:${password}@/postgres?host=${sockets}&port=${port}`;
      const result = await cli(['migrate', '--database-url', socketUrl]);
      expect(result.stderr).toBe(
        `target: ${sockets}:${port}/postgres as postgres (URL from --database-url)\n${PASSWORD_ON_COMMAND_LINE}\n`,
      );
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^migrate postgres: \d+ applied/);
    } finally {
      await server.stop();
      rmSync(sockets, { recursive: true, force: true });
    }
  });
});

describe('local runner: serve', () => {
  it('keeps the embedded database open on a loopback URL with a password made for the run (pg and psql connect, nobody else), holds its lock, and stops on SIGTERM', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'perps-serve-'));
    const server = spawn(`${ROOT}node_modules/.bin/tsx`, [`${ROOT}functions/cli/main.ts`, 'serve'], {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
    try {
      const [chunk] = (await once(server.stdout, 'data')) as [Buffer];
      const url = String(chunk).trim();
      expect(url).toMatch(/^postgres:\/\/postgres:[\w-]{24}@127\.0\.0\.1:\d+\/postgres\?sslmode=disable$/);
      const client = await connect(url);
      expect((await client.query('SELECT 40 + 2 AS answer')).rows).toEqual([{ answer: 42 }]);
      await client.end();
      // PGlite itself lets in any user with any password: the port checks the generated one.
      for (const password of ['', 'wrong-password']) {
        const other = new URL(url);
        other.password = password;
        await expect(connect(other.toString())).rejects.toMatchObject({ code: '28P01' });
      }
      // Anything but a PostgreSQL startup is cut off, unanswered, before it reaches the database.
      const stranger = connectTcp(Number(new URL(url).port), '127.0.0.1');
      const received: Buffer[] = [];
      stranger.on('data', (data: Buffer) => received.push(data));
      stranger.on('error', () => undefined);
      stranger.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await once(stranger, 'close');
      expect(Buffer.concat(received).toString()).toBe('');
      const psql = spawnSync('psql', [url, '-At', '-c', 'SELECT 6 * 7'], { encoding: 'utf8', timeout: 30_000 });
      expect(psql.stdout.trim()).toBe('42');
      // The same lock as every other run: a second run waits for serve to stop.
      const busy = spawnCli(['stats'], { cwd });
      expect(busy.code).toBe(4);
      expect(busy.stderr).toMatch(/the embedded database in .*\.pglite is in use by another run/);
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(existsSync(join(cwd, '.pglite', 'perps-stats-db.lock'))).toBe(false);
  });

  it('refuses to serve when a database URL is configured', async () => {
    const result = await cli(['serve'], { env: { DATABASE_URL: CLOSED } });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'error: serve opens the embedded database, but DATABASE_URL in the environment names a server: connect to that one directly, or unset it to serve the embedded one\n',
    );
  });
});

/** Files and directories under `path` that its group or other users may read, write or enter, with their modes. */
function openToOthers(path: string): string[] {
  const stat = lstatSync(path);
  const own = (stat.mode & 0o077) !== 0 ? [`${path} ${(stat.mode & 0o777).toString(8)}`] : [];
  return stat.isDirectory() ? [...own, ...readdirSync(path).flatMap((entry) => openToOthers(join(path, entry)))] : own;
}

describe('local runner on the embedded database (PGlite)', () => {
  it('previews drops and a truncate with the rows the partitions hold, and stats counts them, though PGlite keeps no row statistics', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'perps-pglite-counts-'));
    expect((await cli(['init'], { cwd })).code).toBe(0);
    // Rows of two past days land in the DEFAULT partitions; partitions moves them into day
    // partitions that are never analyzed, as on the quick-start path.
    expect((await cli(['sample-data', '--days', '3'], { cwd })).code).toBe(0);
    expect((await cli(['partitions'], { cwd })).code).toBe(0);
    const drops = JSON.parse((await cli(['clean', '--drop-partitions-older-than', '1', '--dry-run', '--format', 'json'], { cwd })).stdout);
    const truncate = JSON.parse((await cli(['clean', '--truncate', '--dry-run', '--format', 'json'], { cwd })).stdout);
    const truncateTable = (await cli(['clean', '--truncate', '--dry-run'], { cwd })).stdout;
    const stats = JSON.parse((await cli(['stats', '--format', 'json'], { cwd })).stdout);
    // After runs that created partitions and wrote rows, nothing in the folder is open to other users.
    expect(openToOthers(join(cwd, '.pglite'))).toEqual([]);

    // What PGlite itself counts, opened after the runs.
    const db = await PGlite.create(join(cwd, '.pglite'));
    const counted = async (relation: string) =>
      Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${relation}"`)).rows[0]?.n);
    try {
      const dropped = drops.actions.filter((a: { action: string }) => a.action === 'drop_partition');
      expect(dropped.map((a: { relation: string }) => a.relation)).toContain(
        `trades_${dayOf(new Date(Date.now() - 2 * 86_400_000)).replaceAll('-', '_')}`,
      );
      for (const action of dropped) {
        const rows = await counted(action.relation);
        expect(rows).toBeGreaterThan(0);
        expect({ relation: action.relation, rows: action.rows, exact: action.rows_exact }).toEqual({
          relation: action.relation,
          rows,
          exact: true,
        });
      }
      const [plan] = truncate.actions;
      for (const table of plan.tables as string[]) {
        const rows = await counted(table);
        if (plan.rows_exact[table]) expect({ table, rows: plan.rows[table] }).toEqual({ table, rows });
        else {
          // An estimate says so, in the row and in the totals the name is typed against.
          expect(truncateTable).toMatch(new RegExp(`would remove rows: .*\\b${table}=~\\d`));
          expect(Math.abs(plan.rows[table] - rows)).toBeLessThanOrEqual(rows * 0.05);
        }
      }
      for (const table of ['tickers', 'orderbooks', 'trades', 'funding_rates']) {
        const rows = await counted(table);
        expect(rows).toBeGreaterThan(0);
        // Estimated where a partition is past the exact-count size, but never short by the never-analyzed partitions.
        expect(Math.abs(stats.tables[table].row_count - rows), table).toBeLessThanOrEqual(rows * 0.05);
      }
    } finally {
      await db.close();
    }
    // Seven runs, each opening PGlite (a few seconds apiece on a busy machine).
  }, 240_000);

  it('keeps its folder to its owner and its socket in a private directory, not on a TCP port', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'perps-pglite-modes-')), '.pglite');
    const first = await startEmbeddedDatabase(dir);
    await first.stop();
    // A folder an older version left open (PGlite writes a new database's files 0666) is put right.
    chmodSync(join(dir, 'PG_VERSION'), 0o666);
    chmodSync(join(dir, 'base'), 0o777);
    const embedded = await startEmbeddedDatabase(dir);
    try {
      const socketDir = parseDatabaseUrl(embedded.url).searchParams.get('host') ?? '';
      expect(embedded.url).toMatch(/^postgres:\/\/postgres@\/postgres\?host=[^&]+&port=5432$/);
      expect(statSync(socketDir).mode & 0o777).toBe(0o700);
      expect(existsSync(embedded.socket)).toBe(true);
      const client = await connect(embedded.url);
      expect((await client.query('SELECT 6 * 7 AS answer')).rows).toEqual([{ answer: 42 }]);
      await client.end();
      expect(openToOthers(dir)).toEqual([]);
    } finally {
      await embedded.stop();
    }
    expect(existsSync(parseDatabaseUrl(embedded.url).searchParams.get('host') ?? '')).toBe(false);
  });

  it('initialises and reports stats with no database configured', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'perps-pglite-'));
    // A lock left by a run that died (no such process) is taken over.
    mkdirSync(join(cwd, '.pglite'));
    writeFileSync(join(cwd, '.pglite', 'perps-stats-db.lock'), '999999999');
    const init = spawnCli(['init'], { cwd });
    expect(init.stderr).toMatch(/using the embedded PostgreSQL \(PGlite\) in .*\.pglite/);
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/8 applied/);
    const stats = spawnCli(['stats', '--format', 'json'], { cwd });
    expect(stats.code).toBe(0);
    const report = JSON.parse(stats.stdout);
    expect(report.tables.exchanges.row_count).toBe(7);
    // The history of runs works on PGlite too: init's two runs are recorded.
    expect(report.jobs.migrate.last_run).toMatchObject({ outcome: 'succeeded', origin: 'runner' });
    expect(report.jobs.partitions.last_success_at).not.toBeNull();
    expect(report.tables.trades.runway_days).toBe(7);
    expect(existsSync(join(cwd, '.pglite', 'perps-stats-db.lock'))).toBe(false);
  });

  it('restores an archived day into the embedded database (COPY FROM STDIN over pglite-socket)', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'perps-pglite-'));
    for (const command of [
      ['init'],
      ['sample-data', '--days', '4'],
      ['partitions'],
      ['archive', '--to', './archive', '--table', 'trades'],
    ]) {
      expect(spawnCli(command, { cwd }).code).toBe(0);
    }
    const day = dayOf(new Date(Date.now() - 2 * DAY_MS));
    const restore = spawnCli(['restore', '--from', './archive', '--table', 'trades', '--day', day, '--replace', '--format', 'json'], {
      cwd,
    });
    expect(restore.stderr).not.toMatch(/error/);
    expect(restore.code).toBe(0);
    const report = JSON.parse(restore.stdout);
    expect(report.rows_loaded).toBeGreaterThan(0);
    expect(report.rows_loaded).toBe(report.object_rows);
    expect(report).toMatchObject({ status: 'restored', ledger_checksum_matches: true });
  });
});
