import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli';
import { connect, createTestDatabase } from '../support/database';
import { type BundledHandler, type Invocation, invoke, loadHandler } from '../support/handlers';

// Names the code did not choose, written to break out of SQL: a database name (it reaches
// migration 0003's GRANT CONNECT and the truncate confirmation), a partition someone attached by
// hand (prune and stats read partition names from the catalog and put them in DDL and counts) and
// a symbol (ingest data). Each carries a statement that would drop a canary table if any of them
// were concatenated into SQL unquoted. The real bundles run against them.

const INJECTION = `"; DROP TABLE canary; --'`;
const DATABASE = `perps ${INJECTION} db`;
const PARTITION = `tickers_2020_01_01${INJECTION}`;
const SYMBOL = `BTC'); DROP TABLE canary; --`;
const NOW = Date.now();

let url: string;
const opened: BundledHandler[] = [];

async function run(operation: 'migrate' | 'partitions' | 'prune' | 'stats', event: unknown = {}): Promise<Invocation> {
  const handler = await loadHandler(operation, { DATABASE_URL: url, DB_SECRET_ARN: undefined });
  opened.push(handler);
  return invoke(handler, event);
}

async function canaryRows(): Promise<number> {
  const client = await connect(url);
  return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM canary')).rows[0]?.n);
}

beforeAll(async () => {
  // The URL class percent-encodes the quote and the spaces; node-postgres decodes them back.
  url = await createTestDatabase(DATABASE);
  const client = await connect(url);
  await client.query('CREATE TABLE canary (id int); INSERT INTO canary VALUES (1)');
});

afterAll(async () => {
  for (const handler of opened) await handler.close();
});

describe('hostile names reach SQL only quoted (real bundles, real server)', () => {
  it('migrates, partitions and reports a database whose name carries SQL', async () => {
    const migrated = await run('migrate');
    expect(migrated.error).toBeUndefined();
    expect(migrated.result).toMatchObject({ database: DATABASE, applied: 6 });
    // 0003 granted CONNECT on exactly this database, named through format('%I').
    const client = await connect(url);
    const { rows } = await client.query<{ ok: boolean }>(
      `SELECT has_database_privilege('perps_writer', current_database(), 'CONNECT') AS ok`,
    );
    expect(rows[0]?.ok).toBe(true);
    expect((await run('partitions', { daysAhead: 2 })).error).toBeUndefined();
    expect(await canaryRows()).toBe(1);
  });

  it('counts, reports and drops a hand-attached partition whose name carries SQL, by its real bounds', async () => {
    const client = await connect(url);
    await client.query(
      `CREATE TABLE ${pg.escapeIdentifier(PARTITION)} PARTITION OF tickers FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-01-02 00:00+00')`,
    );
    await client.query(`INSERT INTO tickers (exchange_id, symbol, ts) VALUES (1, $1, '2020-01-01 12:00+00'), (1, $1, $2)`, [
      SYMBOL,
      new Date(NOW - 60_000),
    ]);

    const stats = await run('stats', { symbols: true });
    expect(stats.error).toBeUndefined();
    expect(JSON.stringify(stats.result)).toContain(JSON.stringify(SYMBOL).slice(1, -1));

    const preview = await run('prune', { dropPartitionsOlderThanDays: 30, olderThanDays: 30, dryRun: true });
    expect(preview.error).toBeUndefined();
    expect(JSON.stringify(preview.result)).toContain(JSON.stringify(PARTITION).slice(1, -1));

    const pruned = await run('prune', { dropPartitionsOlderThanDays: 30, olderThanDays: 30 });
    expect(pruned.error).toBeUndefined();
    const { rows } = await client.query<{ exists: boolean; left: string }>(
      `SELECT to_regclass(quote_ident($1)) IS NOT NULL AS exists, (SELECT count(*) FROM tickers WHERE symbol = $2) AS left`,
      [PARTITION, SYMBOL],
    );
    expect(rows[0]).toEqual({ exists: false, left: '1' }); // the old row went with its partition, the recent one stays
    expect(await canaryRows()).toBe(1);
  });

  it('confirms a truncate with that name exactly, on the handler and the runner', async () => {
    const refused = await run('prune', { truncate: true, confirm: 'perps' });
    expect(refused.error?.name).toBe('InputError');
    expect(refused.error?.message).toContain(`of database "${DATABASE}"`);

    const truncated = await run('prune', { truncate: true, confirm: DATABASE });
    expect(truncated.error).toBeUndefined();
    const client = await connect(url);
    await client.query(`INSERT INTO tickers (exchange_id, symbol, ts) VALUES (1, $1, now())`, [SYMBOL]);

    const typed = await cli(['clean', '--truncate', '--database-url', url], { terminalInput: `${DATABASE}\n` });
    expect(typed.stderr).not.toMatch(/^error/m);
    expect(typed.code).toBe(0);
    expect((await client.query<{ n: string }>('SELECT count(*) AS n FROM tickers')).rows[0]?.n).toBe('0');
    expect(await canaryRows()).toBe(1);
  });
});
