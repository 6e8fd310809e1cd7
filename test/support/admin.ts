import pg from 'pg';

/**
 * Drops a database even while sessions are connected to it, on every supported major:
 * `DROP DATABASE ... WITH (FORCE)` only exists from PostgreSQL 13, so end the sessions first.
 */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client(adminUrl);
  await client.connect();
  try {
    // New sessions could connect between the two statements; refuse them first.
    await client.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} ALLOW_CONNECTIONS false`).catch(() => undefined);
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}
