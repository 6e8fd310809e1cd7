import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../functions/core/operations';
import { connect, createTestDatabase, loginRole, ownDatabase, testContext } from '../support/database';

// What the roles of migration 0003 can really do, tried on the server with login users, not
// read from the catalog: a maintenance user (CREATEROLE, owner of the database and its schema,
// no superuser: the shape of an RDS master user) runs every operation; a login user in
// perps_writer and one in perps_reader each try every action of the matrix.

const NOW = new Date('2026-06-15T12:00:00Z');
let url: string;
let maintenanceUrl: string;
let maintenanceRole: string;
let writer: pg.Client;
let reader: pg.Client;
let readerUrl: string;

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

  const writerLogin = await loginRole(admin, url, 'perps_ingester', '');
  const readerLogin = await loginRole(admin, url, 'perps_grafana', '');
  await admin.query(`GRANT perps_writer TO ${pg.escapeIdentifier(writerLogin.role)}`);
  await admin.query(`GRANT perps_reader TO ${pg.escapeIdentifier(readerLogin.role)}`);
  writer = await connect(writerLogin.url);
  reader = await connect(readerLogin.url);
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
  [
    'INSERT into a day partition directly',
    `INSERT INTO tickers_2026_06_16 (exchange_id, symbol, ts) VALUES (1, 'X', '2026-06-16 01:00+00')`,
    'allowed',
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
  ['INSERT into exchanges', `INSERT INTO exchanges (name) VALUES ('newex')`, 'allowed', 'denied'],
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
];

describe('roles: each can do what it should and nothing more (login users, real statements)', () => {
  it.each(MATRIX.map(([action, sql, writerMay, readerMay]) => ({ action, sql, writerMay, readerMay })))(
    '$action: writer $writerMay, reader $readerMay',
    async ({ sql, writerMay, readerMay }) => {
      expect(await attempt(writer, sql)).toBe(writerMay);
      expect(await attempt(reader, sql)).toBe(readerMay);
    },
  );

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
    expect(report).toMatchObject({ applied: 4 });
    expect((report as { notices: string[] }).notices).toEqual([
      // 0003's GRANT USAGE ON SCHEMA public by a non-owner grants nothing; PUBLIC has USAGE anyway.
      'no privileges were granted for "public"',
      `CREATE on schema public not revoked from PUBLIC: user ${migrator.role} does not own schema public; ask an administrator to run REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT CREATE ON SCHEMA public TO ${migrator.role} (see README, Roles)`,
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
