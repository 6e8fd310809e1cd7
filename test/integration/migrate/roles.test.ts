import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MigrateReport } from '../../../functions/operations/migrate/migrate';
import { OPERATIONS } from '../../../functions/operations/registry';
import { MAINTENANCE_LOCK_KEY } from '../../../functions/shared/db/sessions';
import { LockBusyError, PartialFailureError } from '../../../functions/shared/errors';
import {
  afterFile,
  connect,
  createTestDatabase,
  loginRole,
  ownDatabase,
  ownerWithoutCreateRole,
  runWhileLocked,
  testContext,
} from '../../support/database';
import { startTestServer } from '../../support/server';

// What the roles of migration 0003 can really do, tried on the server with login users, not
// read from the catalog: a maintenance user (CREATEROLE, owner of the database and its schema,
// no superuser: the shape of an RDS master user) runs every operation; a login user in
// perps_writer and one in perps_reader each try every action of the matrix. The matrix runs on
// three databases: the first one, migrated by that user, which creates the roles; a second one in
// the same cluster, migrated by an owner that may not create roles after the roles exist; and one
// on a cluster of its own, migrated while the roles did not exist, whose grants come from a later
// migrate once an administrator has created them.

const NOW = new Date('2026-06-15T12:00:00Z');
let url: string;
let maintenanceUrl: string;
let maintenanceRole: string;
let writer: pg.Client;
let reader: pg.Client;
let readerUrl: string;
let writerLogin: { role: string; url: string };
let readerLogin: { role: string; url: string };

/** 'allowed' when the statement ran (rolled back either way), 'denied' on insufficient privilege / not owner. */
async function attempt(client: pg.Client, sql: string): Promise<'allowed' | 'denied'> {
  await client.query('BEGIN');
  try {
    await client.query(sql);
    return 'allowed';
  } catch (error) {
    const code = (error as { code?: string }).code;
    // 42501 insufficient_privilege; "must be owner" is also 42501.
    if (code === '42501') return 'denied';
    throw error;
  } finally {
    await client.query('ROLLBACK');
  }
}

/**
 * A login in perps_writer and one in perps_reader (made by `admin`, a superuser: on PostgreSQL 16+
 * only the roles' creator or a superuser may grant them), each with a client on `databaseUrl`.
 */
async function groupLogins(admin: pg.ClientBase, databaseUrl: string) {
  const writerLogin = await loginRole(admin, databaseUrl, 'perps_ingester', '');
  const readerLogin = await loginRole(admin, databaseUrl, 'perps_grafana', '');
  await admin.query(`GRANT perps_writer TO ${pg.escapeIdentifier(writerLogin.role)}`);
  await admin.query(`GRANT perps_reader TO ${pg.escapeIdentifier(readerLogin.role)}`);
  return { writerLogin, readerLogin, writer: await connect(writerLogin.url), reader: await connect(readerLogin.url) };
}

beforeAll(async () => {
  url = await createTestDatabase();
  const admin = await connect(url);
  const maintenance = await loginRole(admin, url, 'perps_maint', 'CREATEROLE NOSUPERUSER');
  await ownDatabase(admin, url, maintenance.role);
  maintenanceUrl = maintenance.url;
  maintenanceRole = maintenance.role;

  // The maintenance user installs the schema, roles included, and creates partitions.
  const ctx = testContext(maintenanceUrl, { now: NOW });
  await OPERATIONS.migrate.run(ctx, {});
  await OPERATIONS.partitions.run(ctx, { daysAhead: 3 });

  ({ writerLogin, readerLogin, writer, reader } = await groupLogins(admin, url));
  readerUrl = readerLogin.url;
});

const TICKER = `INSERT INTO tickers (exchange_id, symbol, ts, last_price) VALUES (1, 'BTC-PERP', '2026-06-15 12:00+00', 1)`;
const MARKET = `INSERT INTO markets (exchange_id, symbol) VALUES (1, 'ETH-PERP')`;

/** Every action tried, and what each role may do. */
const MATRIX: [action: string, sql: string, writer: 'allowed' | 'denied', reader: 'allowed' | 'denied'][] = [
  ['SELECT a time-series table', 'SELECT count(*) FROM tickers', 'allowed', 'allowed'],
  ['SELECT a day partition created after the migration', 'SELECT count(*) FROM tickers_2026_06_16', 'allowed', 'allowed'],
  ['SELECT exchanges and ingest_events', 'SELECT count(*) FROM exchanges, ingest_events', 'allowed', 'allowed'],
  ['INSERT into a time-series table (routed to its day partition)', TICKER, 'allowed', 'denied'],
  [
    'INSERT into every time-series table',
    `INSERT INTO orderbooks (exchange_id, symbol, ts) VALUES (1, 'BTC-PERP', now());
     INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (1, 'BTC-PERP', now(), 1, 1);
     INSERT INTO funding_rates (exchange_id, symbol, ts, rate) VALUES (1, 'BTC-PERP', now(), 0.0001)`,
    'allowed',
    'denied',
  ],
  // Issue 22 point 9: the ingester inserts through the parents, which route rows to their
  // partitions with the parent's privileges alone; nothing may be written into a partition directly.
  [
    'INSERT into a day partition directly',
    `INSERT INTO tickers_2026_06_16 (exchange_id, symbol, ts) VALUES (1, 'X', '2026-06-16 01:00+00')`,
    'denied',
    'denied',
  ],
  [
    'INSERT into a DEFAULT partition directly',
    `INSERT INTO tickers_default (exchange_id, symbol, ts) VALUES (1, 'X', '2030-01-01 01:00+00')`,
    'denied',
    'denied',
  ],
  ['INSERT into markets, ON CONFLICT DO NOTHING', `${MARKET} ON CONFLICT (exchange_id, symbol) DO NOTHING`, 'allowed', 'denied'],
  [
    'INSERT into markets, ON CONFLICT DO UPDATE (upsert)',
    `${MARKET} ON CONFLICT (exchange_id, symbol) DO UPDATE SET base_currency = 'ETH'`,
    'denied',
    'denied',
  ],
  [
    'INSERT into ingest_events',
    `INSERT INTO ingest_events (symbol, event_type, status) VALUES ('BTC-PERP', 'ws', 'ok')`,
    'allowed',
    'denied',
  ],
  [
    'INSERT into exchanges (seeded by migrate; an ingester only reads it)',
    `INSERT INTO exchanges (name) VALUES ('newex')`,
    'denied',
    'denied',
  ],
  ['nextval of a sequence', `SELECT nextval('tickers_id_seq')`, 'allowed', 'denied'],
  ['UPDATE rows', `UPDATE tickers SET last_price = 2`, 'denied', 'denied'],
  ['DELETE rows', 'DELETE FROM tickers', 'denied', 'denied'],
  ['DELETE rows of a partition', 'DELETE FROM tickers_2026_06_16', 'denied', 'denied'],
  ['TRUNCATE a table', 'TRUNCATE tickers', 'denied', 'denied'],
  ['TRUNCATE a partition', 'TRUNCATE tickers_default', 'denied', 'denied'],
  ['DROP a table', 'DROP TABLE trades', 'denied', 'denied'],
  ['DROP a partition', 'DROP TABLE tickers_2026_06_16', 'denied', 'denied'],
  ['ALTER a table', 'ALTER TABLE tickers ADD COLUMN note text', 'denied', 'denied'],
  ['DETACH a partition', 'ALTER TABLE tickers DETACH PARTITION tickers_2026_06_16', 'denied', 'denied'],
  ['CREATE INDEX', 'CREATE INDEX ON tickers (last_price)', 'denied', 'denied'],
  ['CREATE a table in the schema', 'CREATE TABLE public.scratch (x int)', 'denied', 'denied'],
  [
    'CREATE a partition of a time-series table',
    `CREATE TABLE public.tickers_2030_01_01 PARTITION OF tickers FOR VALUES FROM ('2030-01-01 00:00+00') TO ('2030-01-02 00:00+00')`,
    'denied',
    'denied',
  ],
  ['read the migration ledger', 'SELECT * FROM perps_schema_migrations', 'denied', 'denied'],
  ['write the migration ledger', `INSERT INTO perps_schema_migrations (name, checksum) VALUES ('9999_skip.sql', 'x')`, 'denied', 'denied'],
  ['read the archive ledger', 'SELECT * FROM archive_ledger', 'denied', 'allowed'],
  [
    'write the archive ledger (a forged row would let prune drop an unarchived day)',
    `INSERT INTO archive_ledger (table_name, day, location, object_key, rows, bytes, checksum) VALUES ('trades', '2026-06-16', 's3://x', 'k', 0, 1, 'x')`,
    'denied',
    'denied',
  ],
];

/** Login clients in perps_writer and perps_reader on one database. */
interface Logins {
  writer: pg.Client;
  reader: pg.Client;
}

/** `fn` run at most once, however many hooks ask for its result. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}

describe.each([
  { database: 'first database (migrated by a user that may create roles)', setup: async (): Promise<Logins> => ({ writer, reader }) },
  { database: 'second database (the roles existed; its owner may not create roles)', setup: async () => (await secondDatabase()).logins },
  { database: 'database migrated before the roles existed', setup: async () => (await lateDatabase()).logins },
])('roles on the $database: each can do what it should and nothing more (login users, real statements)', ({ setup }) => {
  let on: Logins;
  beforeAll(async () => {
    on = await setup();
  });

  it.each(MATRIX.map(([action, sql, writerMay, readerMay]) => ({ action, sql, writerMay, readerMay })))(
    '$action: writer $writerMay, reader $readerMay',
    async ({ sql, writerMay, readerMay }) => {
      expect(await attempt(on.writer, sql)).toBe(writerMay);
      expect(await attempt(on.reader, sql)).toBe(readerMay);
    },
  );
});

describe('roles on the first database', () => {
  it('a reader login can run stats: the stats function needs no more than perps_reader', async () => {
    const report = await OPERATIONS.stats.run(testContext(readerUrl, { now: NOW }), {});
    expect(report).toMatchObject({ operation: 'stats', database: { name: new URL(url).pathname.slice(1) } });
    expect(Object.keys((report as { tables: object }).tables).sort()).toEqual([
      'exchanges',
      'funding_rates',
      'ingest_events',
      'markets',
      'orderbooks',
      'tickers',
      'trades',
    ]);
  });

  it('neither can become the maintenance user', async () => {
    for (const client of [writer, reader]) expect(await attempt(client, `SET ROLE ${pg.escapeIdentifier(maintenanceRole)}`)).toBe('denied');
  });

  it('leaves CREATE on schema public to its owner alone (PostgreSQL 12-14 grant it to PUBLIC; migration 0004 revokes it)', async () => {
    const { rows } = await writer.query<{ public_may: boolean; writer_may: boolean; owner_may: boolean }>(
      `SELECT has_schema_privilege('public', 'public', 'CREATE') AS public_may,
              has_schema_privilege('perps_writer', 'public', 'CREATE') AS writer_may,
              has_schema_privilege($1, 'public', 'CREATE') AS owner_may`,
      [maintenanceRole],
    );
    expect(rows[0]).toEqual({ public_may: false, writer_may: false, owner_may: true });
  });

  it('says what to ask an administrator for when the migrating user does not own schema public', async () => {
    const other = await createTestDatabase();
    const admin = await connect(other);
    const migrator = await loginRole(admin, other, 'perps_maint', 'CREATEROLE NOSUPERUSER');
    await ownDatabase(admin, other, migrator.role, { schema: false });
    // As on RDS with PostgreSQL 14 or older: public belongs to someone else, CREATE comes from a grant.
    await admin.query('ALTER SCHEMA public OWNER TO CURRENT_USER');
    await admin.query(`GRANT CREATE ON SCHEMA public TO ${pg.escapeIdentifier(migrator.role)}`);
    const report = await OPERATIONS.migrate.run(testContext(migrator.url, { now: NOW }), {});
    expect(report).toMatchObject({ applied: 8 });
    expect((report as { notices: string[] }).notices).toEqual([
      // 0003's GRANT USAGE ON SCHEMA public by a non-owner grants nothing; PUBLIC has USAGE anyway.
      'no privileges were granted for "public"',
      `CREATE on schema public not revoked from PUBLIC: user ${migrator.role} does not own schema public; ask an administrator to run REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT CREATE ON SCHEMA public TO ${migrator.role} (see README, Roles)`,
      // 0003's INSERT on exchanges and the 4 DEFAULT partitions, and in its default privileges.
      writerRevokedNotice(databaseOf(other), migrator.role, 5),
      publicRevokedNotice(databaseOf(other)),
    ]);
  });

  it('the maintenance user runs every operation: migrate, partitions, stats and every form of prune', async () => {
    const ctx = testContext(maintenanceUrl, { now: NOW });
    await writer.query(TICKER);
    await writer.query(`INSERT INTO tickers (exchange_id, symbol, ts) VALUES (1, 'OLD', '2026-01-01 00:00+00')`);
    expect(await OPERATIONS.migrate.run(ctx, {})).toMatchObject({ applied: 0 });
    expect(await OPERATIONS.partitions.run(ctx, { daysAhead: 5 })).toMatchObject({ operation: 'partitions' });
    expect(await OPERATIONS.stats.run(ctx, {})).toMatchObject({ operation: 'stats' });
    const pruned = await OPERATIONS.prune.run(ctx, { olderThanDays: 30, dropPartitionsOlderThanDays: 30 });
    expect(pruned).toMatchObject({ operation: 'prune' });
    const database = new URL(url).pathname.slice(1);
    const truncated = await OPERATIONS.prune.run(ctx, { truncate: true, confirm: database });
    expect(truncated).toMatchObject({ operation: 'prune' });
    expect((await reader.query<{ n: string }>('SELECT count(*) AS n FROM tickers')).rows[0]?.n).toBe('0');
  });
});

describe('issue 22 point 9: perps_writer inserts what an ingester writes, and nothing that maintenance drops', () => {
  it('inserts through the parents (routed to a day partition and to the DEFAULT one), into markets and ingest_events, with RETURNING', async () => {
    const ingester = await connect(writerLogin.url);
    const { rows: market } = await ingester.query<{ id: string }>(
      `INSERT INTO markets (exchange_id, symbol) VALUES (2, 'SOL-PERP') ON CONFLICT (exchange_id, symbol) DO NOTHING RETURNING id`,
    );
    const marketId = market[0]?.id;
    expect(marketId).toBeDefined();
    // Per table: a day that has a partition, and one that has none (its row waits in the DEFAULT partition).
    const inserts = {
      tickers: ['', ''],
      orderbooks: ['', ''],
      trades: [', price, size', ', 1, 1'],
      funding_rates: [', rate', ', 0.0001'],
    };
    for (const [table, [columns, values]] of Object.entries(inserts)) {
      await ingester.query(
        `INSERT INTO ${table} (exchange_id, market_id, symbol, ts${columns})
         VALUES (2, $1, 'SOL-PERP', '2026-06-16 08:00+00'${values}), (2, $1, 'SOL-PERP', '2031-01-01 08:00+00'${values}) RETURNING id`,
        [marketId],
      );
    }
    await ingester.query(
      `INSERT INTO ingest_events (exchange_id, market_id, symbol, event_type, status) VALUES (2, $1, 'SOL-PERP', 'ws', 'ok') RETURNING id`,
      [marketId],
    );
    const admin = await connect(url);
    for (const table of ['tickers', 'orderbooks', 'trades', 'funding_rates']) {
      const { rows } = await admin.query<{ partition: string }>(
        `SELECT tableoid::regclass::text AS partition FROM ${table} WHERE symbol = 'SOL-PERP' ORDER BY ts`,
      );
      expect(rows.map((r) => r.partition)).toEqual([`${table}_2026_06_16`, `${table}_default`]);
      expect(await privilegesOn(admin, `${table}_default`)).toEqual(READ);
    }
  });

  it('may not insert into exchanges, a backlog, an in-progress day table or a restore table, made by the maintenance user after migrate', async () => {
    // Named as partitions and restore name them; made by the maintenance user, as they are, so
    // they get exactly the privileges its default privileges give (what 0003 made INSERT).
    const maintenance = await connect(maintenanceUrl);
    const made = ['tickers_backlog_1', 'tickers_2026_06_10', 'tickers_2026_06_11_restore'];
    for (const table of made) await maintenance.query(`CREATE TABLE ${table} (LIKE tickers INCLUDING DEFAULTS)`);
    try {
      for (const table of ['exchanges', ...made]) {
        const sql =
          table === 'exchanges'
            ? `INSERT INTO exchanges (name) VALUES ('forged')`
            : `INSERT INTO ${table} (exchange_id, symbol, ts) VALUES (1, 'X', '2026-06-10 01:00+00')`;
        expect([table, await attempt(writer, sql)]).toEqual([table, 'denied']);
        expect([table, await attempt(reader, sql)]).toEqual([table, 'denied']);
      }
    } finally {
      await maintenance.query(`DROP TABLE ${made.join(', ')}`);
    }
  });
});

describe('issue 22 point 8: only the roles that run maintenance can hold its lock', () => {
  it('a login in no perps group cannot connect, so cannot take the lock; perps_writer, perps_reader and the maintenance user still connect', async () => {
    const admin = await connect(url);
    const stranger = await loginRole(admin, url, 'perps_stranger');
    const blocker = await connect(stranger.url).then(
      async (client) => {
        await client.query('SELECT pg_advisory_lock($1)', [MAINTENANCE_LOCK_KEY]);
        return client;
      },
      (error: unknown) => error,
    );
    expect(blocker).toMatchObject({ code: '42501', message: `permission denied for database "${databaseOf(url)}"` });
    expect(await OPERATIONS.partitions.run(testContext(maintenanceUrl, { now: NOW }), { daysAhead: 3 })).toMatchObject({
      operation: 'partitions',
    });
    for (const login of [writerLogin.url, readerLogin.url, maintenanceUrl]) {
      expect((await (await connect(login)).query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    }
  });

  it('a busy lock names the session holding it: pid, user, application_name and since when', async () => {
    const holder = await connect(maintenanceUrl, { application_name: 'psql-left-open' });
    const { rows } = await holder.query<{ pid: number; since: Date }>(
      'SELECT pg_backend_pid() AS pid, backend_start AS since FROM pg_stat_activity WHERE pid = pg_backend_pid()',
    );
    const { pid, since } = rows[0] ?? { pid: 0, since: new Date(0) };
    await holder.query('SELECT pg_advisory_lock($1)', [MAINTENANCE_LOCK_KEY]);
    try {
      const error = await OPERATIONS.partitions.run(testContext(maintenanceUrl, { now: NOW }), { daysAhead: 3 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockBusyError);
      expect((error as LockBusyError).message).toBe(
        `partitions: another maintenance run (migrate, partitions, prune, vacuum, archive or restore) holds the maintenance lock on this database (pid ${pid}, user "${maintenanceRole}", application_name "psql-left-open", connected since ${since.toISOString()}; did not wait); run again when it has finished`,
      );
    } finally {
      await holder.query('SELECT pg_advisory_unlock($1)', [MAINTENANCE_LOCK_KEY]);
    }
  });

  it('a group member holding it is named as one that runs no maintenance, with how to end its session; its name shown escaped', async () => {
    const admin = await connect(url);
    // A login name is anyone's to choose (CREATEROLE): this one would clear the screen.
    const member = await loginRole(admin, url, 'perps_\u001b[2J');
    await admin.query(`GRANT perps_writer TO ${pg.escapeIdentifier(member.role)}`);
    const holder = await connect(member.url, { application_name: 'rogue-lock' });
    const pid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    await holder.query('SELECT pg_advisory_lock($1)', [MAINTENANCE_LOCK_KEY]);
    try {
      const error = await OPERATIONS.prune.run(testContext(maintenanceUrl, { now: NOW }), { olderThanDays: 30 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockBusyError);
      const shown = member.role.replace('\u001b', '\\x1b');
      expect((error as LockBusyError).message).toBe(
        `prune: the maintenance lock on this database is held by a session of a user that runs no maintenance (pid ${pid}, user "${shown}", application_name "rogue-lock", connected since a time pg_stat_activity hides from this login; did not wait): end that session (SELECT pg_terminate_backend(${pid}), as a superuser or a member of pg_signal_backend), then run again; only perps_reader, perps_writer and the owner should be able to connect (see README, Roles)`,
      );
    } finally {
      await holder.query('SELECT pg_advisory_unlock($1)', [MAINTENANCE_LOCK_KEY]);
    }
  });
});

/**
 * Issue 22 points 8 and 9 on a database deployed before them: migration 0003's grants (INSERT on
 * every table and in the default privileges) and PUBLIC's CONNECT, as an older build's migrate
 * leaves them (also after a rollback), and partitions and work tables made under them. The next
 * migrate takes back exactly that, and the one after changes nothing.
 */
describe('an existing deployment: the next migrate moves it to the new grants, once', () => {
  const upgraded = once(async () => {
    const upgradeUrl = await createTestDatabase();
    const owner = await ownerWithoutCreateRole(upgradeUrl);
    await migrateAs(owner.url);
    const asOwner = await connect(owner.url);
    const database = pg.escapeIdentifier(databaseOf(upgradeUrl));
    await asOwner.query(`GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO perps_writer;
      REVOKE ALL ON perps_schema_migrations, archive_ledger FROM perps_writer;
      ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO perps_writer;
      GRANT CONNECT ON DATABASE ${database} TO PUBLIC`);
    await OPERATIONS.partitions.run(testContext(owner.url, { now: NOW }), { daysAhead: 3 });
    await asOwner.query('CREATE TABLE tickers_backlog_1 (LIKE tickers); CREATE TABLE tickers_2026_06_11_restore (LIKE tickers)');
    const before = await privilegesOn(asOwner, 'tickers_2026_06_16');
    const migrated = await migrateAs(owner.url);
    const again = await migrateAs(owner.url);
    return { upgradeUrl, owner: owner.role, asOwner, before, migrated, again };
  });

  it('revokes perps_writer INSERT beyond the six tables (partitions, backlog and restore tables, default privileges) and PUBLIC CONNECT', async () => {
    const { upgradeUrl, owner, before, migrated } = await upgraded();
    const database = databaseOf(upgradeUrl);
    expect(before).toEqual(READ_AND_WRITE);
    // exchanges, job_runs, 4 DEFAULT partitions, 3 days x 4 tables, the backlog and the restore table.
    expect(migrated.revokes.map((r) => [r.role, r.on, r.privileges, r.objects.length])).toEqual([
      ['perps_writer', 'table', 'INSERT', 20],
      ['perps_writer', 'future table', 'INSERT', 1],
      ['PUBLIC', 'database', 'CONNECT', 1],
    ]);
    expect(migrated).toMatchObject({ applied: 0, grants: [] });
    expect(migrated.notices).toEqual([writerRevokedNotice(database, owner, 20), publicRevokedNotice(database)]);
  });

  it('leaves the writer INSERT on the parents alone, and the next migrate finds nothing to change', async () => {
    const { upgradeUrl, asOwner, again } = await upgraded();
    for (const table of ['tickers_2026_06_16', 'tickers_default', 'tickers_backlog_1', 'tickers_2026_06_11_restore']) {
      expect([table, await privilegesOn(asOwner, table)]).toEqual([table, READ]);
    }
    for (const table of ['tickers', 'orderbooks', 'trades', 'funding_rates', 'markets', 'ingest_events']) {
      expect([table, await privilegesOn(asOwner, table)]).toEqual([table, READ_AND_WRITE]);
    }
    await asOwner.query('CREATE TABLE tickers_backlog_2 (LIKE tickers)');
    expect(await privilegesOn(asOwner, 'tickers_backlog_2')).toEqual(READ);
    expect(await privilegesOn(asOwner, 'exchanges')).toEqual(READ);
    const { rows } = await asOwner.query(`SELECT has_database_privilege('public', $1, 'CONNECT') AS public_may`, [databaseOf(upgradeUrl)]);
    expect(rows[0]).toEqual({ public_may: false });
    expect(again).toMatchObject({ applied: 0, grants: [], revokes: [], notices: [] });
  });
});

/** `loginUrl` (a login role's URL) pointed at the database of `databaseUrl`. */
function onDatabase(loginUrl: string, databaseUrl: string): string {
  const target = new URL(loginUrl);
  target.pathname = new URL(databaseUrl).pathname;
  return target.toString();
}

const databaseOf = (databaseUrl: string) => decodeURIComponent(new URL(databaseUrl).pathname.slice(1));

async function migrateAs(url: string): Promise<MigrateReport> {
  return (await OPERATIONS.migrate.run(testContext(url, { now: NOW }), {})) as MigrateReport;
}

/**
 * The notices of a migrate that granted both roles everything on tables and sequences it owns.
 * `tables` counts the writer's tables: the reader also reads the archive ledger, the writer may
 * not; the writer may INSERT into the six tables an ingester writes (issue 22 point 9).
 */
function grantedNotices(
  database: string,
  user: string,
  tables: number,
  sequences: number,
  { connect = true, execute = false } = {},
): string[] {
  const onDatabase = connect ? 'CONNECT on the database; ' : '';
  // EXECUTE on the history's recording function, when migration 0008 ran before perps_reader existed.
  const onFunction = execute ? '; EXECUTE on 1 function' : '';
  return [
    `granted perps_reader its missing privileges on database ${database}: ${onDatabase}USAGE on schema public; SELECT on ${tables + 1} tables; SELECT on the tables user ${user} creates later${onFunction}`,
    `granted perps_writer its missing privileges on database ${database}: ${onDatabase}USAGE on schema public; SELECT, INSERT on 6 tables; SELECT on ${tables - 6} tables; USAGE, SELECT on ${sequences} sequences; SELECT on the tables user ${user} creates later; USAGE, SELECT on the sequences user ${user} creates later`,
  ];
}

/** The notice of a migrate that revoked CONNECT from PUBLIC (issue 22 point 8). */
const publicRevokedNotice = (database: string) =>
  `revoked CONNECT on database ${database} from PUBLIC: only perps_reader, perps_writer, the owner and superusers may connect; make another login a member of perps_reader or perps_writer, or GRANT CONNECT ON DATABASE to it (see README, Roles)`;

/** The notice of a migrate that took back what migration 0003 gave perps_writer beyond ingestion. */
const writerRevokedNotice = (database: string, user: string, tables: number) =>
  `revoked from perps_writer on database ${database} what ingestion does not need: INSERT on ${tables} tables; INSERT on the tables user ${user} creates later`;

/** The statements a notice asks an administrator to run, one per element. */
function administratorStatements(notice: string | undefined): string[] {
  const statements = /ask an administrator to run (.+?)(?: then run migrate again|$)/.exec(notice ?? '')?.[1];
  if (!statements) throw new Error(`no statements for an administrator in the notice: ${notice}`);
  return statements.split(/(?<=;) /);
}

/** Privileges of the group roles on `relation`, as has_table_privilege / has_sequence_privilege see them. */
async function privilegesOn(client: pg.ClientBase, relation: string): Promise<Record<string, boolean>> {
  const { rows } = await client.query<Record<string, boolean>>(
    `SELECT has_table_privilege('perps_reader', $1, 'SELECT') AS reader_select,
            has_table_privilege('perps_reader', $1, 'INSERT') AS reader_insert,
            has_table_privilege('perps_writer', $1, 'SELECT') AS writer_select,
            has_table_privilege('perps_writer', $1, 'INSERT') AS writer_insert`,
    [relation],
  );
  return rows[0] ?? {};
}

const READ_AND_WRITE = { reader_select: true, reader_insert: false, writer_select: true, writer_insert: true };
/** A partition: both read it; the writer inserts through its parent only. */
const READ = { reader_select: true, reader_insert: false, writer_select: true, writer_insert: false };
const READ_ONLY = { reader_select: true, reader_insert: false, writer_select: false, writer_insert: false };
const NOTHING = { reader_select: false, reader_insert: false, writer_select: false, writer_insert: false };

/**
 * Issue 14 point 2: a second database of the cluster, migrated by an owner that may not create
 * roles after the roles exist (made by the first database's migration). Migration 0003 skips its
 * grants there; migrate's grants step gives them.
 */
const secondDatabase = once(async () => {
  const secondUrl = await createTestDatabase();
  const owner = await ownerWithoutCreateRole(secondUrl);
  const first = await migrateAs(owner.url);
  await OPERATIONS.partitions.run(testContext(owner.url, { now: NOW }), { daysAhead: 3 });
  const again = await migrateAs(owner.url);
  const logins = {
    writer: await connect(onDatabase(writerLogin.url, secondUrl)),
    reader: await connect(onDatabase(readerLogin.url, secondUrl)),
  };
  return { url: secondUrl, owner: owner.role, first, again, logins, admin: await connect(secondUrl) };
});

describe('a second database in the cluster, migrated by an owner without CREATEROLE after the roles exist', () => {
  it('migrate grants the roles what migration 0003 skipped, and says exactly that (not "ask an administrator to create" them)', async () => {
    const { url: secondUrl, owner, first } = await secondDatabase();
    expect(first.applied).toBe(8);
    // 7 tables, the history of runs and the 4 DEFAULT partitions (the migration ledger is the
    // maintenance user's alone, the archive ledger is read by perps_reader only); 8 sequences.
    expect(first.notices).toEqual([...grantedNotices(databaseOf(secondUrl), owner, 12, 8), publicRevokedNotice(databaseOf(secondUrl))]);
    expect(first.grants.map((g) => [g.role, g.on, g.privileges, g.objects.length])).toEqual([
      ['perps_reader', 'database', 'CONNECT', 1],
      ['perps_reader', 'schema', 'USAGE', 1],
      ['perps_reader', 'table', 'SELECT', 13],
      ['perps_reader', 'future table', 'SELECT', 1],
      ['perps_writer', 'database', 'CONNECT', 1],
      ['perps_writer', 'schema', 'USAGE', 1],
      ['perps_writer', 'table', 'SELECT, INSERT', 6],
      ['perps_writer', 'table', 'SELECT', 6],
      ['perps_writer', 'sequence', 'USAGE, SELECT', 8],
      ['perps_writer', 'future table', 'SELECT', 1],
      ['perps_writer', 'future sequence', 'USAGE, SELECT', 1],
    ]);
    expect(first.revokes).toEqual([{ role: 'PUBLIC', privileges: 'CONNECT', on: 'database', objects: [databaseOf(secondUrl)] }]);
  });

  it("has_table_privilege('perps_reader', 'trades', 'SELECT') is true, on partitions made later too, and the ledger stays closed", async () => {
    const { admin } = await secondDatabase();
    expect(await privilegesOn(admin, 'trades')).toEqual(READ_AND_WRITE);
    expect(await privilegesOn(admin, 'tickers_2026_06_16')).toEqual(READ);
    expect(await privilegesOn(admin, 'perps_schema_migrations')).toEqual(NOTHING);
    expect(await privilegesOn(admin, 'archive_ledger')).toEqual(READ_ONLY);
  });

  it('the next migrate finds nothing missing: it grants nothing and says nothing', async () => {
    const { again } = await secondDatabase();
    expect(again).toMatchObject({ applied: 0, grants: [], revokes: [], notices: [] });
  });
});

describe('what only an administrator can grant', () => {
  it('names the privilege and the statement when the migrating user does not own the database and PUBLIC may not connect', async () => {
    const other = await createTestDatabase();
    const database = databaseOf(other);
    const admin = await connect(other);
    const migrator = await loginRole(admin, other, 'perps_owner', 'NOCREATEROLE');
    await admin.query(`REVOKE CONNECT ON DATABASE ${pg.escapeIdentifier(database)} FROM PUBLIC`);
    await admin.query(`GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(database)} TO ${pg.escapeIdentifier(migrator.role)}`);
    await admin.query(`ALTER SCHEMA public OWNER TO ${pg.escapeIdentifier(migrator.role)}`);

    const report = await migrateAs(migrator.url);
    expect(report.notices).toEqual([
      `perps_reader lacks CONNECT on database ${database}, which user ${migrator.role} does not own: ask an administrator to run GRANT CONNECT ON DATABASE ${database} TO perps_reader`,
      `perps_writer lacks CONNECT on database ${database}, which user ${migrator.role} does not own: ask an administrator to run GRANT CONNECT ON DATABASE ${database} TO perps_writer`,
      ...grantedNotices(database, migrator.role, 12, 8, { connect: false }),
    ]);
    const refused = await connect(onDatabase(readerLogin.url, other)).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: '42501', message: `permission denied for database "${database}"` });

    for (const notice of report.notices.slice(0, 2)) for (const statement of administratorStatements(notice)) await admin.query(statement);
    expect(await migrateAs(migrator.url)).toMatchObject({ grants: [], revokes: [], notices: [] });
    const readerOnIt = await connect(onDatabase(readerLogin.url, other));
    expect((await readerOnIt.query('SELECT count(*)::int AS n FROM exchanges')).rows[0]).toEqual({ n: 7 });
  });
});

describe('PUBLIC CONNECT on a database the migrating user does not own (issue 22 point 8)', () => {
  it('is named in a notice with the statements for an administrator; once run, the next migrate changes nothing', async () => {
    const other = await createTestDatabase();
    const database = databaseOf(other);
    const admin = await connect(other);
    const migrator = await loginRole(admin, other, 'perps_owner', 'NOCREATEROLE');
    await admin.query(`ALTER SCHEMA public OWNER TO ${pg.escapeIdentifier(migrator.role)}`);
    const report = await migrateAs(migrator.url);
    const grant = `GRANT CONNECT ON DATABASE "${database}" TO perps_reader, perps_writer, "${migrator.role}"`;
    const revoke = `REVOKE CONNECT ON DATABASE ${database} FROM PUBLIC`;
    expect(report.notices).toEqual([
      `PUBLIC may connect to database ${database}, which user ${migrator.role} does not own, so any login can hold the maintenance lock and stop maintenance: ask an administrator to run ${grant}; ${revoke}; and to grant CONNECT to any other login that must connect (see README, Roles)`,
      ...grantedNotices(database, migrator.role, 12, 8, { connect: false }),
    ]);
    expect(report.revokes).toEqual([]);
    await admin.query(`${grant}; ${revoke}`);
    expect(await migrateAs(migrator.url)).toMatchObject({ grants: [], revokes: [], notices: [] });
    const stranger = await loginRole(admin, other, 'perps_stranger');
    expect(await connect(stranger.url).catch((e: unknown) => e)).toMatchObject({ code: '42501' });
  });
});

/**
 * A database migrated, and given partitions, while perps_reader and perps_writer did not exist,
 * on a cluster of its own (roles are cluster-wide: on the shared test server they exist). The
 * administrator runs what the notices say, one role at a time, and migrate grants the rest.
 */
const lateDatabase = once(async () => {
  const server = await startTestServer();
  afterFile(() => server.stop());
  await (await connect(server.url)).query('CREATE DATABASE perps');
  const lateUrl = new URL('/perps', server.url).toString();
  const admin = await connect(lateUrl);
  const owner = await ownerWithoutCreateRole(lateUrl);
  const rolesMissing = await migrateAs(owner.url);
  await OPERATIONS.partitions.run(testContext(owner.url, { now: NOW }), { daysAhead: 3 });
  const [createReader] = administratorStatements(rolesMissing.notices[0]);
  await admin.query(createReader ?? '');
  const readerOnly = await migrateAs(owner.url);
  for (const statement of administratorStatements(readerOnly.notices[0])) await admin.query(statement);
  // Another session in the middle of dropping perps_writer holds its lock: granting to it waits.
  const lockedOut = await runWhileLocked(lateUrl, 'DROP ROLE perps_writer', () =>
    OPERATIONS.migrate.run(testContext(owner.url, { now: NOW, settings: { lockTimeoutMs: 100, ddlAttempts: 2 } }), {}),
  );
  const bothRoles = await migrateAs(owner.url);
  const settled = await migrateAs(owner.url);
  await OPERATIONS.partitions.run(testContext(owner.url, { now: NOW }), { daysAhead: 5 });

  const logins = await groupLogins(admin, lateUrl);
  return { owner: owner.role, admin, rolesMissing, readerOnly, lockedOut: lockedOut.error, bothRoles, settled, logins };
});

describe('a database migrated while the roles did not exist gets its grants from a later migrate', () => {
  it('the notice names both missing roles and the statements to run; nothing is granted', async () => {
    const { owner, rolesMissing } = await lateDatabase();
    expect(rolesMissing).toMatchObject({ applied: 8, grants: [] });
    expect(rolesMissing.notices).toEqual([
      `roles perps_reader and perps_writer do not exist, so they have no privileges on database perps; user ${owner} may not create roles: ask an administrator to run CREATE ROLE perps_reader NOLOGIN; CREATE ROLE perps_writer NOLOGIN; then run migrate again, which grants them (see README, Roles)`,
    ]);
  });

  it('with only perps_reader created, migrate grants it everything and names perps_writer alone as missing', async () => {
    const { owner, readerOnly } = await lateDatabase();
    // 7 tables, the history of runs, 4 DEFAULT partitions and 3 days x 4 tables of partitions made while the roles were missing.
    expect(readerOnly.notices).toEqual([
      `role perps_writer does not exist, so it has no privileges on database perps; user ${owner} may not create roles: ask an administrator to run CREATE ROLE perps_writer NOLOGIN; then run migrate again, which grants them (see README, Roles)`,
      grantedNotices('perps', owner, 24, 8, { execute: true })[0],
    ]);
  });

  it('a grant that cannot get its lock in time fails the run (exit code 1) with the report; the next run grants', async () => {
    const { lockedOut } = await lateDatabase();
    expect(lockedOut).toBeInstanceOf(PartialFailureError);
    expect((lockedOut as PartialFailureError).message).toBe(
      'the migrations are applied, but granting perps_reader and perps_writer their privileges failed (every migrate tries again): role grants: could not get its lock within 100 ms in 2 attempts; a long transaction probably holds a conflicting lock (see pg_locks); it will be retried on the next run',
    );
    expect((lockedOut as PartialFailureError).report).toMatchObject({ operation: 'migrate', applied: 0, grants: [] });
  });

  it('once perps_writer exists too, migrate grants it everything, and the run after that grants nothing', async () => {
    const { owner, bothRoles, settled } = await lateDatabase();
    // Both roles exist now: PUBLIC loses CONNECT (while perps_writer was missing, it kept it).
    expect(bothRoles).toMatchObject({ applied: 0, notices: [grantedNotices('perps', owner, 24, 8)[1], publicRevokedNotice('perps')] });
    expect(settled).toMatchObject({ applied: 0, grants: [], revokes: [], notices: [] });
  });

  it('covers the partitions made before the grants and, through default privileges, the ones made after', async () => {
    const { admin } = await lateDatabase();
    expect(await privilegesOn(admin, 'tickers_2026_06_16')).toEqual(READ);
    expect(await privilegesOn(admin, 'funding_rates_2026_06_19')).toEqual(READ);
    expect(await privilegesOn(admin, 'tickers')).toEqual(READ_AND_WRITE);
    expect(await privilegesOn(admin, 'perps_schema_migrations')).toEqual(NOTHING);
    expect(await privilegesOn(admin, 'archive_ledger')).toEqual(READ_ONLY);
    const { rows } = await admin.query(`SELECT has_sequence_privilege('perps_writer', 'trades_id_seq', 'USAGE') AS usage`);
    expect(rows[0]).toEqual({ usage: true });
    // The history's recording function, made before perps_reader existed: EXECUTE for the reader only.
    const { rows: execute } = await admin.query(
      `SELECT has_function_privilege('perps_reader', p.oid, 'EXECUTE') AS reader, has_function_privilege('perps_writer', p.oid, 'EXECUTE') AS writer
         FROM pg_proc p WHERE p.proname = 'record_job_run'`,
    );
    expect(execute).toEqual([{ reader: true, writer: false }]);
  });
});
