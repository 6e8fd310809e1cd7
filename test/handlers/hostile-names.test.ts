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
    expect(migrated.result).toMatchObject({ database: DATABASE, applied: 8 });
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

// Issue 22 point 11: names an ingester writes (exchange names, symbols) reach a terminal through
// `stats` and CloudWatch through its EMF documents. Each carries a control sequence that, printed
// raw, would clear the screen, retitle the window, start a fake line, ring the bell or (as a C1
// code point) do the same in one character; one is longer than CloudWatch allows a dimension.
const ESC = '\u001b';
const HOSTILE_EXCHANGES = [
  `clear${ESC}[2J${ESC}[Hscreen`,
  `title${ESC}]0;pwned\u0007`,
  'cr\rbinance   tickers   999999',
  `c1\u009b2J\u009d0;t\u009c\u0085`,
  'x'.repeat(5000),
];
const HOSTILE_SYMBOL = `BTC${ESC}[31m\rFAKE\u0007\u009b1A`;
/** Any character a terminal acts on; a table's own newlines aside. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

describe('hostile exchange names and symbols reach the terminal escaped and CloudWatch bounded (issue 22, point 11)', () => {
  beforeAll(async () => {
    const client = await connect(url);
    const { rows } = await client.query<{ id: number }>('INSERT INTO exchanges (name) SELECT unnest($1::text[]) RETURNING id', [
      HOSTILE_EXCHANGES,
    ]);
    await client.query(`INSERT INTO tickers (exchange_id, symbol, ts) SELECT unnest($1::int[]), $2, $3`, [
      rows.map((r) => r.id),
      HOSTILE_SYMBOL,
      new Date(Date.now() - 30_000),
    ]);
  });

  it('the stats table shows each control character as a visible escape: no fake line, no cleared screen', async () => {
    const result = await cli(['stats', '--symbols', '--database-url', url]);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(RAW_CONTROL);
    expect(result.stdout).toContain('clear\\x1b[2J\\x1b[Hscreen');
    expect(result.stdout).toContain('title\\x1b]0;pwned\\x07');
    expect(result.stdout).toContain('c1\\x9b2J\\x9d0;t\\x9c\\x85');
    expect(result.stdout).toMatch(/^cr\\x0dbinance {3}tickers {3}999999 +tickers +1 /m);
    expect(result.stdout).toMatch(/^tickers +BTC\\x1b\[31m\\x0dFAKE\\x07\\x9b1A +5 /m);
    // The CR did not start a line of its own that reads as binance's.
    expect(result.stdout).not.toMatch(/^binance/m);
  });

  it('--format json is the exact JSON of the names (JSON.parse gives them back), with no raw control character', async () => {
    const result = await cli(['stats', '--symbols', '--format', 'json', '--database-url', url]);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(RAW_CONTROL);
    const report = JSON.parse(result.stdout) as { exchanges: Record<string, unknown>; recent_ingest: { symbol: string }[] };
    for (const name of HOSTILE_EXCHANGES) expect(report.exchanges).toHaveProperty([name]);
    expect(report.recent_ingest.map((r) => r.symbol)).toContain(HOSTILE_SYMBOL);
  });

  it('EMF: every dimension value is what CloudWatch accepts (printable ASCII, 1-1,024 characters), one metric per exchange', async () => {
    const stats = await run('stats');
    expect(stats.error).toBeUndefined();
    const exchangeDimensions: string[] = [];
    for (const document of stats.emf) {
      for (const directive of document._aws.CloudWatchMetrics) {
        for (const name of directive.Dimensions.flat()) {
          const value = document[name];
          expect(typeof value).toBe('string');
          expect(value).toMatch(/^[\u0020-\u007e]{1,1024}$/);
          expect(value).toMatch(/\S/);
          if (name === 'Exchange') exchangeDimensions.push(value as string);
        }
      }
    }
    // Each hostile exchange has rows in tickers: its own ExchangeDataAgeSeconds, none merged with another.
    expect(new Set(exchangeDimensions).size).toBe(exchangeDimensions.length);
    const escaped = [
      'clear\\x1b[2J\\x1b[Hscreen',
      'title\\x1b]0;pwned\\x07',
      'cr\\x0dbinance   tickers   999999',
      'c1\\x9b2J\\x9d0;t\\x9c\\x85',
    ];
    for (const prefix of escaped) {
      expect(exchangeDimensions.filter((value) => value.startsWith(prefix))).toEqual([expect.stringMatching(/~[0-9a-f]{12}$/)]);
    }
    expect(exchangeDimensions.filter((value) => value.startsWith('xxxx'))).toEqual([expect.stringMatching(/^x{1011}~[0-9a-f]{12}$/)]);
  });
});
