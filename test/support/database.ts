import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { type MigrateReport, migrate } from '../../functions/operations/migrate/migrate';
import { ensurePartitions, type PartitionsInput, type PartitionsReport } from '../../functions/operations/partitions/partitions';
import type { OperationContext } from '../../functions/shared/context';
import { createPool } from '../../functions/shared/db/pool';
import { MAINTENANCE_LOCK_KEY } from '../../functions/shared/db/sessions';
import { DEFAULT_CONNECTION_SETTINGS, DEFAULT_MAINTENANCE_SETTINGS, type MaintenanceSettings } from '../../functions/shared/db/settings';
import { JOB_RUNS_TABLE } from '../../functions/shared/job-runs';
import { silentLogger } from '../../functions/shared/log';
import { dropDatabase } from './admin';
import { registerSecret } from './secret-guard';

/** Superuser URL of the test server (the integration project's global setup provides it). */
export function adminUrl(): string {
  const url = inject('adminUrl');
  if (!url) throw new Error('no test server: this file needs PostgreSQL, so it belongs in the integration project (vitest.config.ts)');
  return url;
}

/*
 * vitest ignores an afterAll registered inside a hook or a test, which is where these helpers are
 * called: they queue their cleanup here instead, and this file-level afterAll runs it newest first.
 */
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs `cleanup` after the current test file, after every cleanup queued later. */
export function afterFile(cleanup: () => Promise<unknown>): void {
  cleanups.push(cleanup);
}

/** URL of `database` on the test server. */
export function urlFor(database: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Creates a fresh database for one test file (dropped after the file, its sessions ended) and
 * returns its URL. `name` defaults to a random one; `template` names the database to copy
 * (template1, an empty one, by default).
 */
export async function createTestDatabase(
  name = `perps_test_${randomBytes(5).toString('hex')}`,
  options: { template?: string } = {},
): Promise<string> {
  const template = options.template ? ` TEMPLATE ${pg.escapeIdentifier(options.template)}` : '';
  await adminQuery(`CREATE DATABASE ${pg.escapeIdentifier(name)}${template}`);
  afterFile(() => dropDatabase(adminUrl(), name));
  return urlFor(name);
}

/**
 * A database that `build` fills once, copied for each call (CREATE DATABASE ... TEMPLATE): every
 * test still gets a database of its own, for the price of a file copy instead of the migrations,
 * rows and partitions again. PostgreSQL copies only a database nobody is connected to, so
 * `build` closes every session it opens (withContext, withClient).
 */
export function copiesOf(build: (url: string) => Promise<void>): () => Promise<string> {
  let template: Promise<string> | undefined;
  return async () => {
    template ??= createTestDatabase().then(async (url) => {
      await build(url);
      return databaseOf(url);
    });
    return createTestDatabase(undefined, { template: await template });
  };
}

/** The database name in a URL. */
export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client(adminUrl());
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface ContextOptions {
  /** Pins the clock. */
  now?: Date;
  settings?: Partial<MaintenanceSettings>;
}

/** An operation context on `url` whose pool is closed after the file. */
export function testContext(url: string, options: ContextOptions = {}): OperationContext {
  const ctx = newContext(url, options);
  afterFile(() => ctx.pool.end());
  return ctx;
}

/** Runs `work` with an operation context on `url` whose pool is closed as soon as `work` ends. */
export async function withContext<T>(url: string, options: ContextOptions, work: (ctx: OperationContext) => Promise<T>): Promise<T> {
  const ctx = newContext(url, options);
  try {
    return await work(ctx);
  } finally {
    await ctx.pool.end();
  }
}

function newContext(url: string, options: ContextOptions): OperationContext {
  return {
    pool: createPool({ ...DEFAULT_CONNECTION_SETTINGS, url, poolMin: 0, applicationName: 'perps-test' }, silentLogger),
    log: silentLogger,
    now: () => options.now ?? new Date(),
    settings: { ...DEFAULT_MAINTENANCE_SETTINGS, migrateLockWaitMs: 30_000, retryBaseDelayMs: 20, ...options.settings },
  };
}

/** A single client on `url`, closed after the file. */
export async function connect(url: string, options: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, ...options });
  await client.connect();
  afterFile(() => client.end().catch(() => undefined));
  return client;
}

/** Count and an order-independent checksum of a table's rows, to prove none was lost or duplicated. */
export async function fingerprint(client: pg.ClientBase, table: string): Promise<{ rows: number; checksum: string }> {
  const { rows } = await client.query<{ n: string; sum: string | null }>(
    `SELECT count(*) AS n, sum(hashtext(t::text)::numeric) AS sum FROM ${table} t`,
  );
  return { rows: Number(rows[0]?.n), checksum: rows[0]?.sum ?? '0' };
}

/** A lock held by another session until `release()`. */
export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Opens a transaction on its own connection, runs `statement` in it (a LOCK TABLE, or a read
 * that takes ACCESS SHARE) and keeps its locks until release(): a long transaction in the way.
 */
export async function holdInTransaction(url: string, statement: string): Promise<HeldLock> {
  const client = await connect(url);
  await client.query('BEGIN');
  await client.query(statement);
  return { release: async () => void (await client.query('ROLLBACK')) };
}

/**
 * Runs `operation` while another session's transaction holds the locks of `lockStatement`;
 * returns what it threw (undefined if it succeeded) and how long it took. The lock is released
 * either way.
 */
export async function runWhileLocked<E = unknown>(
  url: string,
  lockStatement: string,
  operation: () => Promise<unknown>,
): Promise<{ error: E; elapsed: number }> {
  const blocker = await holdInTransaction(url, lockStatement);
  const started = Date.now();
  try {
    const error = await operation().then(
      () => undefined,
      (e: unknown) => e,
    );
    return { error: error as E, elapsed: Date.now() - started };
  } finally {
    await blocker.release();
  }
}

/** Takes the maintenance advisory lock on its own session, as another maintenance run would. */
export async function holdMaintenanceLock(url: string): Promise<HeldLock> {
  const client = await connect(url);
  await client.query('SELECT pg_advisory_lock($1)', [MAINTENANCE_LOCK_KEY]);
  return { release: async () => void (await client.query('SELECT pg_advisory_unlock($1)', [MAINTENANCE_LOCK_KEY])) };
}

/** A login role with a random password (registered with the password guard), and a URL on `baseUrl` that logs in as it. */
export async function loginRole(
  admin: pg.ClientBase,
  baseUrl: string,
  prefix: string,
  options = '',
): Promise<{ role: string; url: string }> {
  const role = `${prefix}_${randomBytes(3).toString('hex')}`;
  const password = `pw-${randomBytes(9).toString('hex')}`;
  registerSecret(password, `the password of ${role}`);
  await admin.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN ${options} PASSWORD ${pg.escapeLiteral(password)}`);
  const asRole = new URL(baseUrl);
  asRole.username = role;
  asRole.password = password;
  return { role, url: asRole.toString() };
}

/** Makes `role` the owner of the database at `url`, and of its public schema unless `schema` is false. */
export async function ownDatabase(admin: pg.ClientBase, url: string, role: string, { schema = true } = {}): Promise<void> {
  const database = databaseOf(url);
  await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(database)} OWNER TO ${pg.escapeIdentifier(role)}`);
  if (schema) await admin.query(`ALTER SCHEMA public OWNER TO ${pg.escapeIdentifier(role)}`);
}

/**
 * Makes a login role without CREATEROLE the owner of the database at `url` and of its public
 * schema, so it can migrate but not create roles. Returns the role and a URL that logs in as it.
 */
export async function ownerWithoutCreateRole(url: string): Promise<{ role: string; url: string }> {
  const admin = await connect(url);
  const owner = await loginRole(admin, url, 'perps_owner', 'NOCREATEROLE');
  await ownDatabase(admin, url, owner.role);
  return owner;
}

/**
 * Creates the group roles of migration 0003 on the test server unless they exist, as a migration
 * by a CREATEROLE user would. Roles are cluster-wide: a test that needs them must not depend on
 * another file having migrated first. They are never dropped (other files use them).
 */
export async function ensureGroupRoles(): Promise<void> {
  for (const role of ['perps_reader', 'perps_writer']) {
    await adminQuery(`DO $$ BEGIN CREATE ROLE ${role} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
  }
}

/** What the runner's `init` does (migrate, then partitions), straight through the core operations. */
export async function initDatabase(
  ctx: OperationContext,
  event: PartitionsInput,
): Promise<{ migrate: MigrateReport; partitions: PartitionsReport }> {
  const migrated = await migrate(ctx);
  return { migrate: migrated, partitions: await ensurePartitions(ctx, event) };
}

/**
 * Everything an operation could change, for "nothing changed" checks: the relations of the
 * public schema and a fingerprint of every table's rows (partitions and ledger included; not the
 * history of runs, job_runs, in which every run records itself).
 */
export async function databaseState(url: string): Promise<Record<string, unknown>> {
  return withClient(url, async (client) => {
    const relations = await publicRelations(client);
    const state: Record<string, unknown> = { relations: relations.map((r) => `${r.name}:${r.kind}`) };
    // job_runs left out: every run records itself there, a dry run's too (the relation is still listed).
    for (const row of relations.filter((r) => r.kind === 'r' && r.name !== JOB_RUNS_TABLE)) {
      state[row.name] = await fingerprint(client, `"${row.name}"`);
    }
    return state;
  });
}

/**
 * The relations of the public schema (`name:kind`) and the migration ledger's names: what "the
 * schema of one clean run" means when timestamps and row contents differ between databases.
 */
export async function schemaState(url: string): Promise<{ relations: string[]; ledger: string[] }> {
  return withClient(url, async (client) => {
    const relations = (await publicRelations(client)).map((r) => `${r.name}:${r.kind}`);
    const ledger = relations.includes('perps_schema_migrations:r')
      ? (await client.query<{ name: string }>('SELECT name FROM perps_schema_migrations ORDER BY name')).rows.map((r) => r.name)
      : [];
    return { relations, ledger };
  });
}

async function publicRelations(client: pg.ClientBase): Promise<{ name: string; kind: string }[]> {
  const { rows } = await client.query<{ name: string; kind: string }>(
    `SELECT c.relname AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' ORDER BY 1`,
  );
  return rows;
}

/** A short-lived client on `url`, ended however `fn` ends. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
