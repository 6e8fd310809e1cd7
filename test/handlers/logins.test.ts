import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { addDays, dayOf, partitionName } from '../../functions/shared/days';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import type { HandlerOperation } from '../../infra/bundling';
import { archiveDirectory } from '../support/archive';
import { insertEdgeRows } from '../support/archive-rows';
import { adminQuery, afterFile, connect, createTestDatabase, ensureGroupRoles, loginRole, ownDatabase } from '../support/database';
import { type BundledHandler, invoke, loadHandler } from '../support/handlers';
import { registerSecret } from '../support/secret-guard';
import { type SdkSecretsEndpoint, useSecretsEndpoint } from '../support/secrets-endpoint';

/*
 * Each bundle as its login, on a database set up as RDS sets one up: a master user with
 * CREATEROLE (not a superuser) that owns the database and created the group roles. migrate
 * (master secret) makes the maintenance and stats logins from their secrets; then each
 * function runs with its own login's secret only, and each login is tried at what it must not do.
 */
const ARN = (name: string) => `arn:aws:secretsmanager:eu-west-1:000000000000:secret:${name}-AbCdEf`;
const SECRETS = { master: ARN('perps-master'), maintenance: ARN('perps-maintenance'), stats: ARN('perps-stats') };
const DAY = addDays(dayOf(new Date()), -10);
const suffix = randomBytes(3).toString('hex');
const LOGINS = { maintenance: `perps_maintenance_${suffix}`, stats: `perps_stats_${suffix}` };

let url: string;
let master: { role: string; url: string };
let endpoint: SdkSecretsEndpoint;
let archiveDir: string;
const passwords: Record<string, string> = {};

/** The RDS shape of a secret for `username` on the test database. */
function rdsSecret(username: string, password: string): string {
  const target = new URL(url);
  return JSON.stringify({
    engine: 'postgres',
    host: target.hostname,
    port: Number(target.port),
    username,
    password,
    dbname: target.pathname.slice(1),
  });
}

function putLoginSecret(purpose: keyof typeof LOGINS, password: string): void {
  passwords[purpose] = password;
  registerSecret(password, `the ${purpose} login's password`);
  endpoint.put(SECRETS[purpose], rdsSecret(LOGINS[purpose], password));
}

/** The function `operation` as the stack deploys it: its login's secret (migrate: the master's and the logins'). */
async function deployed(
  operation: HandlerOperation,
  login: 'master' | keyof typeof LOGINS,
  env: Record<string, string> = {},
): Promise<BundledHandler> {
  const handler = await loadHandler(operation, { DB_SECRET_ARN: SECRETS[login], ARCHIVE_DIR: archiveDir, ...env });
  afterFile(() => handler.close());
  return handler;
}

async function run(operation: HandlerOperation, login: 'master' | keyof typeof LOGINS, payload: object, env: Record<string, string> = {}) {
  const outcome = await invoke(await deployed(operation, login, env), payload);
  return outcome;
}

const migrateWithLogins = () =>
  run('migrate', 'master', {}, { DB_MAINTENANCE_SECRET_ARN: SECRETS.maintenance, DB_STATS_SECRET_ARN: SECRETS.stats });

/** A session as `purpose`'s login with the password its secret holds now. */
async function loginSession(purpose: keyof typeof LOGINS): Promise<pg.Client> {
  const target = new URL(url);
  target.username = LOGINS[purpose];
  target.password = passwords[purpose] ?? '';
  const client = await connect(target.toString());
  afterFile(() => client.end());
  return client;
}

/** The SQLSTATE `sql` fails with as `client` (undefined: it succeeded), in a transaction rolled back. */
async function failureOf(client: pg.ClientBase, sql: string): Promise<string | undefined> {
  await client.query('BEGIN');
  try {
    await client.query(sql);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  } finally {
    await client.query('ROLLBACK');
  }
}

/** The owners of the tables and sequences of public, with how many each owns. */
async function owners(): Promise<Record<string, number>> {
  const admin = await connect(url);
  try {
    const { rows } = await admin.query<{ owner: string; count: number }>(
      `SELECT pg_get_userbyid(relowner) AS owner, count(*)::int AS count FROM pg_class
        WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'S') GROUP BY 1`,
    );
    return Object.fromEntries(rows.map((row) => [row.owner, row.count]));
  } finally {
    await admin.end();
  }
}

beforeAll(async () => {
  // After the database is dropped (cleanups run newest first): logins are cluster-wide.
  afterFile(() => adminQuery(`DROP ROLE IF EXISTS ${LOGINS.maintenance}, ${LOGINS.stats}`));
  url = await createTestDatabase();
  await ensureGroupRoles();
  const admin = await connect(url);
  master = await loginRole(admin, url, 'rds_master', 'CREATEROLE CREATEDB');
  await ownDatabase(admin, url, master.role);
  // What migration 0003 leaves when the master user creates the groups: it administers them.
  await admin.query(`GRANT perps_reader, perps_writer TO ${master.role} WITH ADMIN OPTION`);
  await admin.end();
  archiveDir = archiveDirectory();
  afterFile(async () => rmSync(archiveDir, { recursive: true, force: true }));
  endpoint = await useSecretsEndpoint({ DATABASE_URL: undefined });
  afterFile(() => endpoint.release());
  const masterUrl = new URL(master.url);
  endpoint.put(SECRETS.master, rdsSecret(master.role, decodeURIComponent(masterUrl.password)));
  putLoginSecret('maintenance', `pw-${randomBytes(12).toString('hex')}`);
  putLoginSecret('stats', `pw-${randomBytes(12).toString('hex')}`);
});

describe('function logins, each bundle as its own login', () => {
  it('a stack from before the logins: migrate with the master secret alone makes no login, and the master user owns everything', async () => {
    const migrated = await run('migrate', 'master', {});
    expect(migrated.error).toBeUndefined();
    expect(migrated.result).not.toHaveProperty('logins');
    const admin = await connect(url);
    const { rows } = await admin.query('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [Object.values(LOGINS)]);
    expect(rows).toEqual([]);
    // A day of rows the old partitions function (the master user) gave its partitions.
    await insertEdgeRows(admin, DAY);
    await admin.end();
    expect((await run('partitions', 'master', { daysAhead: 2 })).error).toBeUndefined();
    expect(Object.keys(await owners())).toEqual([master.role]);
  });

  it('migrate makes both logins from their secrets and hands every table to the maintenance login, which is no superuser', async () => {
    const migrated = await migrateWithLogins();
    expect(migrated.error).toBeUndefined();
    expect(migrated.result).toMatchObject({
      logins: [
        { login: LOGINS.maintenance, purpose: 'maintenance', created: true },
        { login: LOGINS.stats, purpose: 'stats', created: true },
      ],
      ownership_moved: expect.any(Number),
    });
    expect(await owners()).toEqual({ [LOGINS.maintenance]: expect.any(Number) });
    const admin = await connect(url);
    const { rows } = await admin.query(
      `SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,
              ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) AS groups
         FROM pg_roles r WHERE rolname = ANY($1) ORDER BY rolname`,
      [Object.values(LOGINS)],
    );
    await admin.end();
    const plain = { rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false, rolbypassrls: false };
    expect(rows).toEqual([
      { rolname: LOGINS.maintenance, ...plain, groups: [] },
      { rolname: LOGINS.stats, ...plain, groups: ['perps_reader'] },
    ]);
  });

  it('runs partitions, archive, prune, restore and vacuum as the maintenance login, and stats as the stats login', async () => {
    const ok = (outcome: Awaited<ReturnType<typeof run>>) => {
      expect(outcome.error).toBeUndefined();
      return outcome.result;
    };
    expect(ok(await run('partitions', 'maintenance', { daysAhead: 3 }))).toMatchObject({ operation: 'partitions' });
    expect(ok(await run('archive', 'maintenance', { archiveAfterDays: 2, day: DAY }))).toMatchObject({ partitions_archived: 4 });
    expect(ok(await run('prune', 'maintenance', { dropPartitionsOlderThanDays: 5 }))).toMatchObject({ partitions_dropped: 4 });
    expect(ok(await run('restore', 'maintenance', { table: 'trades', day: DAY }))).toMatchObject({ status: 'restored' });
    expect(ok(await run('vacuum', 'maintenance', {}))).toMatchObject({ operation: 'vacuum' });
    expect(ok(await run('stats', 'stats', {}))).toMatchObject({ operation: 'stats' });
    // What the maintenance login creates, the readers may read: its default privileges.
    const stats = await loginSession('stats');
    const { rows } = await stats.query(`SELECT count(*)::int AS rows FROM ${partitionName('trades', DAY)}`);
    expect(rows[0].rows).toBeGreaterThan(0);
  });

  it('the stats login only reads: no write, no DDL, no ledger, no role change; the owner-only functions refuse it', async () => {
    const stats = await loginSession('stats');
    const day = partitionName('tickers', dayOf(new Date()));
    expect(await failureOf(stats, 'SELECT count(*) FROM tickers')).toBeUndefined();
    for (const sql of [
      `INSERT INTO exchanges (name) VALUES ('evil')`,
      'DELETE FROM tickers',
      `UPDATE markets SET symbol = 'x'`,
      'TRUNCATE tickers',
      `DROP TABLE ${day}`,
      `ALTER TABLE tickers DETACH PARTITION ${day}`,
      'CREATE TABLE public.planted (id int)',
      'SELECT * FROM perps_schema_migrations',
      `ALTER ROLE ${LOGINS.stats} CREATEROLE`,
      `SET ROLE ${LOGINS.maintenance}`,
    ]) {
      expect(await failureOf(stats, sql), sql).toBe('42501');
    }
    for (const operation of ['partitions', 'prune', 'vacuum'] as const) {
      const refused = await run(operation, 'stats', operation === 'prune' ? { dropPartitionsOlderThanDays: 5 } : {});
      expect(refused.error?.name, operation).toBe('InsufficientPrivilegeError');
    }
  });

  it('the maintenance login owns the tables but no role but its own: it may change its own password (rotation), nothing else', async () => {
    const maintenance = await loginSession('maintenance');
    for (const sql of [
      'CREATE ROLE planted LOGIN',
      `ALTER ROLE ${LOGINS.stats} PASSWORD 'taken-over'`,
      `DROP ROLE ${LOGINS.stats}`,
      `GRANT perps_writer TO ${LOGINS.maintenance}`,
      `ALTER ROLE ${LOGINS.maintenance} CREATEROLE`,
      `ALTER ROLE ${LOGINS.maintenance} SUPERUSER`,
      `SET ROLE ${master.role}`,
      `ALTER DATABASE ${pg.escapeIdentifier(new URL(url).pathname.slice(1))} OWNER TO ${LOGINS.maintenance}`,
    ]) {
      expect(await failureOf(maintenance, sql), sql).toBe('42501');
    }
    // What hosted single-user rotation does: the login sets its own new password.
    const rotated = `pw-${randomBytes(12).toString('hex')}`;
    registerSecret(rotated, 'the rotated maintenance password');
    await maintenance.query(`ALTER ROLE ${LOGINS.maintenance} PASSWORD ${pg.escapeLiteral(rotated)}`);
    putLoginSecret('maintenance', rotated);
    expect((await run('vacuum', 'maintenance', {})).error).toBeUndefined();
  });

  it('refuses a login secret that names the master user (its password would be changed behind its secret), before applying anything', async () => {
    const tampered = ARN('perps-tampered');
    endpoint.put(tampered, rdsSecret(master.role, 'not-the-master-password'));
    registerSecret('not-the-master-password', 'a tampered secret password');
    const refused = await run('migrate', 'master', {}, { DB_MAINTENANCE_SECRET_ARN: SECRETS.maintenance, DB_STATS_SECRET_ARN: tampered });
    expect(refused.error?.name).toBe('InputError');
    expect(refused.error?.message).toBe(
      `the stats login's secret ${tampered} names ${master.role}, the user migrate runs as: a function login must be a login of its own`,
    );
    expect((await run('migrate', 'master', {})).error).toBeUndefined();
  });

  it('a later migrate keeps the rotated passwords and takes back what an older function version made as the master user', async () => {
    // A rollback's functions log in as the master user again, and create partitions as it.
    expect((await run('partitions', 'master', { daysAhead: 6 })).error).toBeUndefined();
    expect(Object.keys(await owners()).sort()).toEqual([LOGINS.maintenance, master.role].sort());
    const migrated = await migrateWithLogins();
    expect(migrated.error).toBeUndefined();
    expect(migrated.result).toMatchObject({
      logins: [
        { login: LOGINS.maintenance, created: false },
        { login: LOGINS.stats, created: false },
      ],
      ownership_moved: 3 * TIME_SERIES_TABLES.length,
    });
    expect(Object.keys(await owners())).toEqual([LOGINS.maintenance]);
    expect((await run('partitions', 'maintenance', { daysAhead: 6 })).error).toBeUndefined();
    expect((await run('stats', 'stats', {})).error).toBeUndefined();
  });

  it("hands the history's SECURITY DEFINER function to the maintenance login, through which the stats login records its runs", async () => {
    const admin = await connect(url);
    try {
      const { rows: owner } = await admin.query(
        `SELECT pg_get_userbyid(proowner) AS owner, prosecdef FROM pg_proc WHERE proname = 'record_job_run'`,
      );
      expect(owner).toEqual([{ owner: LOGINS.maintenance, prosecdef: true }]);
      const count = async () =>
        (await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM job_runs WHERE operation = 'stats'`)).rows[0]?.n ?? 0;
      const before = await count();
      expect((await run('stats', 'stats', {})).error).toBeUndefined();
      expect(await count()).toBe(before + 1);
    } finally {
      await admin.end();
    }
  });
});
