import { mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { expect, it } from 'vitest';
import { archive } from '../../../functions/operations/archive/archive';
import { migrate } from '../../../functions/operations/migrate/migrate';
import { ensurePartitions } from '../../../functions/operations/partitions/partitions';
import { restore } from '../../../functions/operations/restore/restore';
import { archiveObjectKey, DEFAULT_ARCHIVE_PREFIX } from '../../../functions/shared/archive/layout';
import type { OperationContext } from '../../../functions/shared/context';
import { ArchiveIntegrityError, DeadlineError, InputError } from '../../../functions/shared/errors';
import { archiveDirectory, withArchive } from '../../support/archive';
import { cli } from '../../support/cli';
import { afterFile, type ContextOptions, connect, copiesOf, testContext, withContext } from '../../support/database';
import { interceptStatements } from '../../support/intercept';
import { auditBlockingLocks } from '../../support/lock-audit';
import { seededRandom } from '../../support/random';
import { dataFingerprint, seedDays } from '../../support/rows';
import { startWriter, type WriterResult } from '../../support/writer';

/*
 * Archive a day, drop it, restore it: every row back exactly (NUMERIC edge values, microseconds,
 * JSONB with big numbers, NULLs), through the low-lock path, and nothing changed by a refusal,
 * a dry run or a corrupted object.
 */

const NOW = new Date('2026-06-15T12:00:00Z');
const DAY = '2026-06-10';
const PREFIX = DEFAULT_ARCHIVE_PREFIX;

/** NUMERIC values at the edges of DECIMAL(38,18), written as PostgreSQL prints them. */
const EDGE_PRICES = [
  '99999999999999999999.999999999999999999',
  '-99999999999999999999.999999999999999999',
  '0.000000000000000001',
  '-0.000000000000000001',
  '123456789012.123456789012',
  '0',
];

const database = copiesOf(async (url) => {
  await withContext(url, { now: NOW }, async (ctx) => {
    await migrate(ctx);
    const client = await connect(url);
    await seedDays(client, { from: '2026-06-09', days: 3, rowsPerDay: 120 });
    await client.query(
      `INSERT INTO trades (exchange_id, market_id, symbol, ts, received_at, trade_id, price, size, side, raw)
       SELECT 2, NULL, 'EDGE', '2026-06-10T01:02:03.456789Z'::timestamptz + i * interval '1 microsecond', NULL, 't' || i, p::numeric, p::numeric, NULL,
              '{"p": 123456789012.123456789012, "s": "tab\\there \\"quoted\\""}'::jsonb
         FROM unnest($1::text[]) WITH ORDINALITY AS e(p, i)`,
      [EDGE_PRICES],
    );
    await ensurePartitions(ctx, { daysAhead: 2 });
    await client.end();
  });
});

/** A context on `url` whose archive is a directory of its own (in the test file's scratch directory, removed after it). */
function archivingTo(url: string, settings: ContextOptions['settings'] = {}): { ctx: OperationContext; directory: string } {
  const directory = archiveDirectory();
  return { ctx: withArchive(testContext(url, { now: NOW, settings }), { directory, prefix: PREFIX }), directory };
}

/** A database with the day archived to a directory of its own, and a context reading that archive. */
async function archivedDatabase(): Promise<{ url: string; ctx: OperationContext; directory: string }> {
  const url = await database();
  const { ctx, directory } = archivingTo(url, { batchSize: 50 });
  for (const table of ['trades', 'tickers'] as const) {
    const report = await archive(ctx, { archiveAfterDays: 2, table, day: DAY });
    expect(report.partitions_archived).toBe(1);
  }
  return { url, ctx, directory };
}

async function partitionsOf(url: string, table: string): Promise<string[]> {
  const client = await connect(url);
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`,
    [table],
  );
  return rows.map((r) => r.name);
}

/** Tables (not partitions) whose name is LIKE `pattern`. */
async function relationsLike(url: string, pattern: string): Promise<string[]> {
  const client = await connect(url);
  const { rows } = await client.query<{ name: string }>(
    `SELECT relname AS name FROM pg_class WHERE relname LIKE $1 AND relkind = 'r' AND NOT relispartition ORDER BY 1`,
    [pattern],
  );
  return rows.map((r) => r.name);
}

/** Every relation named like a restore's table, attached or not. */
async function restoreLeftovers(url: string): Promise<string[]> {
  const client = await connect(url);
  const { rows } = await client.query<{ name: string }>(
    `SELECT relname AS name FROM pg_class WHERE relname LIKE '%restore%' AND relkind = 'r'`,
  );
  return rows.map((r) => r.name);
}

/** A database whose day of trades was archived (to a directory of its own), then dropped: where a restore starts. */
async function archivedThenDropped(): Promise<{ url: string; ctx: OperationContext; client: pg.Client }> {
  const url = await database();
  const { ctx } = archivingTo(url);
  const client = await connect(url);
  await archive(ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  await client.query(`DROP TABLE trades_2026_06_10`);
  return { url, ctx, client };
}

it('brings a dropped day back exactly: every row, NUMERIC edge values, microseconds and JSONB', async () => {
  const { url, ctx } = await archivedDatabase();
  const before = await dataFingerprint(url);
  const client = await connect(url);
  const edgeSql = `SELECT id, market_id, ts::text, received_at, trade_id, price::text, size::text, side, raw::text FROM trades WHERE symbol = 'EDGE' ORDER BY id`;
  const edgeRows = (await client.query(edgeSql)).rows;
  expect(edgeRows.map((r) => r.price)).toEqual(EDGE_PRICES);
  await client.query(`DROP TABLE trades_2026_06_10`);
  expect((await dataFingerprint(url)).trades).not.toEqual(before.trades);

  const report = await restore(ctx, { table: 'trades', day: DAY });

  expect(report).toMatchObject({
    status: 'restored',
    partition: 'trades_2026_06_10',
    key_from: 'ledger',
    object_key: archiveObjectKey(PREFIX, 'trades', DAY),
    object_rows: 120 + EDGE_PRICES.length,
    ledger_rows: 120 + EDGE_PRICES.length,
    rows_loaded: 120 + EDGE_PRICES.length,
    partition_rows_before: null,
    rows_swept: 0,
    checksum: expect.stringMatching(/^md5-60-sum:\d+$/),
    ledger_checksum_matches: true,
  });
  expect(await dataFingerprint(url)).toEqual(before);
  expect((await client.query(edgeSql)).rows).toEqual(edgeRows);
  expect(await partitionsOf(url, 'trades')).toContain('trades_2026_06_10');
  expect(await restoreLeftovers(url)).toEqual([]);
  // Attached like any partition: a new row of the day goes into it.
  await client.query(`INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (1, 'NEW', '2026-06-10T05:00:00Z', 1, 1)`);
  const { rows } = await client.query(`SELECT tableoid::regclass::text AS part FROM trades WHERE symbol = 'NEW'`);
  expect(rows).toEqual([{ part: 'trades_2026_06_10' }]);
});

it('brings back 3,000 random values exactly: NUMERIC of 1 to 38 digits and both signs, timestamps from 1900 to 2200 to the microsecond', async () => {
  const { next: random, below, digits } = seededRandom(0x2e57);
  const numeric = () => {
    const integer = below(4) === 0 ? '0' : String(1 + below(9)) + digits(below(20));
    const fraction = below(5) === 0 ? '' : `.${'0'.repeat(below(3) === 0 ? below(10) : 0)}${digits(1 + below(8))}`;
    return `${below(3) === 0 ? '-' : ''}${integer}${fraction}`;
  };
  const dayStart = Date.parse(`${DAY}T00:00:00Z`);
  // A millisecond in [from, from + span), then three more digits of microseconds.
  const instant = (from: number, span: number) => `${new Date(from + Math.floor(random() * span)).toISOString().slice(0, 23)}${digits(3)}Z`;
  const rows = Array.from({ length: 3000 }, () => ({
    price: numeric(),
    size: numeric(),
    ts: instant(dayStart, 86_400_000),
    received: instant(Date.UTC(1900, 0, 1), Date.UTC(2200, 0, 1) - Date.UTC(1900, 0, 1)),
  }));
  const url = await database();
  const client = await connect(url);
  await client.query(
    `INSERT INTO trades (exchange_id, symbol, ts, received_at, price, size)
     SELECT 1, 'RANDOM', ts::timestamptz, received::timestamptz, price::numeric, size::numeric
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS r(price, size, ts, received)`,
    [rows.map((r) => r.price), rows.map((r) => r.size), rows.map((r) => r.ts), rows.map((r) => r.received)],
  );
  const randomSql = `SELECT id, ts::text, received_at::text, price::text, size::text FROM trades WHERE symbol = 'RANDOM' ORDER BY id`;
  // The number comes back, not its scale (see the next test): 8.0 as 8.
  const number = (text: string) => (text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text);
  const randomRows = async () =>
    (await client.query(randomSql)).rows.map((row) => ({ ...row, price: number(row.price), size: number(row.size) }));
  const stored = await randomRows();
  expect(stored).toHaveLength(3000);
  const { ctx } = archivingTo(url);
  expect((await archive(ctx, { archiveAfterDays: 2, table: 'trades', day: DAY })).partitions_archived).toBe(1);
  await client.query(`DROP TABLE trades_2026_06_10`);

  expect(await restore(ctx, { table: 'trades', day: DAY })).toMatchObject({ status: 'restored', ledger_checksum_matches: true });
  expect(await randomRows()).toEqual(stored);
});

it('brings back the number, not how it was written: 1.50 comes back as 1.5, and the ledger checksum still matches', async () => {
  const url = await database();
  const { ctx } = archivingTo(url);
  const client = await connect(url);
  await client.query(`UPDATE trades SET price = '1.50', size = '2.000' WHERE id = (SELECT min(id) FROM trades_2026_06_10)`);
  await archive(ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  await client.query(`DROP TABLE trades_2026_06_10`);

  const report = await restore(ctx, { table: 'trades', day: DAY });

  expect(report).toMatchObject({ status: 'restored', rows_loaded: 126, ledger_checksum_matches: true });
  const { rows } = await client.query(
    `SELECT price::text, size::text, price = 1.50 AND size = 2 AS same FROM trades WHERE id = (SELECT min(id) FROM trades_2026_06_10)`,
  );
  expect(rows).toEqual([{ price: '1.5', size: '2', same: true }]);
});

it('refuses an object whose rows are not the ones the ledger recorded (same count, same size): the day stays as it was', async () => {
  const url = await database();
  const { ctx } = archivingTo(url);
  const client = await connect(url);
  await archive(ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  // A different day's worth of rows under the same key: what an overwritten object would hold.
  await client.query(`UPDATE archive_ledger SET checksum = 'md5-60-sum:1' WHERE table_name = 'trades' AND day = $1`, [DAY]);
  await client.query(`DROP TABLE trades_2026_06_10`);

  await expect(restore(ctx, { table: 'trades', day: DAY })).rejects.toThrow(
    /are not the rows the archive ledger recorded .*the day was left as it was/,
  );
  const left = await client.query(`SELECT relname FROM pg_class WHERE relname LIKE 'trades\\_2026\\_06\\_10%'`);
  expect(left.rows).toEqual([]);
});

it('proves what PostgreSQL stored, not only what was sent: a column narrowed since the archive (rounding a value) fails the restore', async () => {
  const { ctx, client } = await archivedThenDropped();
  // COPY then rounds the archived sizes to 2 places, silently: the rows sent are the archive's, the rows stored are not.
  await client.query(`ALTER TABLE trades ALTER COLUMN size TYPE numeric(40, 2)`);

  const run = restore(ctx, { table: 'trades', day: DAY });
  await expect(run).rejects.toBeInstanceOf(ArchiveIntegrityError);
  await expect(run).rejects.toThrow(/did not store a value exactly as it was read from the object .*the day was left as it was/);
  const left = await client.query(`SELECT relname FROM pg_class WHERE relname LIKE 'trades\\_2026\\_06\\_10%'`);
  expect(left.rows).toEqual([]);
});

/** Runs `change` on the restore's own session once every row is loaded, right before its stored-rows read-back. */
function beforeReadBack(ctx: OperationContext, change: string): void {
  let done = false;
  interceptStatements(ctx, {
    async before(text, _client, query) {
      if (done || !text.startsWith('BEGIN READ ONLY')) return;
      done = true;
      await query(change);
    },
  });
}

it('refuses a load in which one stored value differs from the one sent (same rows, same count): the read-back catches it', async () => {
  const { url, ctx } = await archivedThenDropped();
  // The last digit of one size, once loaded: the values sent, and their archive checksum, are still the ledger's.
  beforeReadBack(
    ctx,
    `UPDATE trades_2026_06_10_restore SET size = size + 0.000000000000000001 WHERE id = (SELECT min(id) FROM trades_2026_06_10_restore)`,
  );

  const run = restore(ctx, { table: 'trades', day: DAY });
  await expect(run).rejects.toBeInstanceOf(ArchiveIntegrityError);
  await expect(run).rejects.toThrow(/did not store a value exactly as it was read from the object .*the day was left as it was/);
  expect(await relationsLike(url, 'trades\\_2026\\_06\\_10%')).toEqual([]);
});

it('refuses a load that lost one row on the way: the rows are counted in the table, not taken from the COPY', async () => {
  const { url, ctx } = await archivedThenDropped();
  beforeReadBack(ctx, `DELETE FROM trades_2026_06_10_restore WHERE id = (SELECT max(id) FROM trades_2026_06_10_restore)`);

  const run = restore(ctx, { table: 'trades', day: DAY });
  await expect(run).rejects.toBeInstanceOf(ArchiveIntegrityError);
  await expect(run).rejects.toThrow(/rows were loaded from .* but its footer declares .*the day was left as it was/);
  expect(await relationsLike(url, 'trades\\_2026\\_06\\_10%')).toEqual([]);
});

it('reads back text that needs quoting and timestamps with trimmed fractions exactly as the load sent them', async () => {
  const url = await database();
  const { ctx } = archivingTo(url);
  const client = await connect(url);
  const awkward = ['', 'a,b', '(x)', 'back\\slash', 'quote"d', ' lead', 'tab\there', 'new\nline', 'cr\rhere', 'ünïcødé', '\\N', 'NULL'];
  await client.query(
    `INSERT INTO trades (exchange_id, symbol, ts, received_at, trade_id, price, size, side, raw)
     SELECT 1, 'AWK', '2026-06-10T03:00:00Z'::timestamptz + i * interval '100 ms', '2026-06-10T04:05:06.120000Z', t, 0.5, 10, t, to_jsonb(t)
       FROM unnest($1::text[]) WITH ORDINALITY AS a(t, i)`,
    [awkward],
  );
  await archive(ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  const awkwardSql = `SELECT ts::text, received_at::text, trade_id, side, raw::text FROM trades WHERE symbol = 'AWK' ORDER BY id`;
  const before = (await client.query(awkwardSql)).rows;
  await client.query(`DROP TABLE trades_2026_06_10`);

  const report = await restore(ctx, { table: 'trades', day: DAY });

  expect(report).toMatchObject({ status: 'restored', rows_loaded: 126 + awkward.length, ledger_checksum_matches: true });
  expect((await client.query(awkwardSql)).rows).toEqual(before);
  expect(before.map((row) => row.trade_id)).toEqual(awkward);
});

it('refuses a day whose partition holds rows, changes nothing in a dry run, and replaces the rows with --replace', async () => {
  const { url, ctx } = await archivedDatabase();
  const before = await dataFingerprint(url);
  const client = await connect(url);

  const asked = await restore(ctx, { table: 'tickers', day: DAY, dryRun: true });
  expect(asked).toMatchObject({ dry_run: true, status: 'planned', partition_rows_before: 120, needs_replace: true });
  const refused = restore(ctx, { table: 'tickers', day: DAY });
  await expect(refused).rejects.toBeInstanceOf(InputError);
  await expect(refused).rejects.toThrow(
    'restore tickers 2026-06-10: partition tickers_2026_06_10 exists and holds 120 rows: nothing was loaded; to replace them with the archive\'s 120 rows, run again with --replace (Lambda: "replace": true), after a --dry-run',
  );

  // Rows changed since the archive: one deleted, one altered, one added.
  await client.query(`DELETE FROM tickers WHERE id = (SELECT min(id) FROM tickers_2026_06_10)`);
  await client.query(`UPDATE tickers SET last_price = 1 WHERE id = (SELECT max(id) FROM tickers_2026_06_10)`);
  await client.query(`INSERT INTO tickers (exchange_id, symbol, ts) VALUES (1, 'LATE', '2026-06-10T08:00:00Z')`);
  const changed = await dataFingerprint(url);

  const preview = await restore(ctx, { table: 'tickers', day: DAY, replace: true, dryRun: true });
  expect(preview).toMatchObject({
    dry_run: true,
    status: 'planned',
    object_rows: 120,
    partition_rows_before: 120,
    replace: true,
    needs_replace: false,
    rows_loaded: 0,
  });
  expect(preview.object_bytes).toBeGreaterThan(0);
  expect(await dataFingerprint(url)).toEqual(changed);

  const report = await restore(ctx, { table: 'tickers', day: DAY, replace: true });
  expect(report).toMatchObject({ status: 'restored', partition_rows_before: 120, rows_loaded: 120 });
  expect(await dataFingerprint(url)).toEqual(before);
  expect(await partitionsOf(url, 'tickers')).toContain('tickers_2026_06_10');
  expect(await restoreLeftovers(url)).toEqual([]);
});

/** Statements that read rows: the COPY that loads, an index built, a key validated, a count or checksum. */
const READS_ROWS = /^COPY "[a-z_0-9]+_restore"|^ALTER TABLE "[a-z_0-9]+" ADD PRIMARY KEY|^CREATE INDEX ON|VALIDATE CONSTRAINT|count\(\*\)/;

it('with --replace, counts and loads holding no lock inserts wait for; the swap is the one short transaction that does', async () => {
  const { url, ctx } = await archivedDatabase();
  const before = await dataFingerprint(url);
  const client = await connect(url);
  await client.query(`UPDATE trades SET price = 7 WHERE id = (SELECT max(id) FROM trades_2026_06_10)`);
  const audit = await auditBlockingLocks(ctx, url);

  const report = await restore(ctx, { table: 'trades', day: DAY, replace: true });

  expect(report).toMatchObject({ partition_rows_before: 126, rows_loaded: 126, rows_swept: 0, late_rows: 0, kept_table: null });
  const reading = audit.filter((a) => READS_ROWS.test(a.statement));
  // Not vacuous: the counts, the load (one COPY, audited while open), the indexes and the keys.
  expect(reading.filter((a) => a.statement.startsWith('COPY')).length).toBe(1);
  expect(reading.length).toBeGreaterThan(4);
  expect(reading.filter((a) => a.blocking.length > 0)).toEqual([]);
  const holding = audit.filter((a) => a.blocking.length > 0);
  // The old partition is swapped out (detached: catalog only), not dropped, in the attach; its
  // rows, unchanged since planned, are checked and dropped after it, holding no insert back.
  expect(
    holding.map((a) => /DETACH PARTITION "trades_2026_06_10";[\s\S]*ATTACH PARTITION "trades_2026_06_10_restore"/.test(a.statement)),
  ).toEqual([true]);
  expect(await relationsLike(url, 'trades_2026_06_10_%')).toEqual([]);
  expect(await dataFingerprint(url)).toEqual(before);
});

it('copies rows holding no lock that holds inserts back; only the attach (a catalog change) holds one', async () => {
  const { url, ctx } = await archivedDatabase();
  const client = await connect(url);
  await client.query(`DROP TABLE trades_2026_06_10`);
  // A late row of the dropped day, waiting in the DEFAULT partition: the attach sweeps it in.
  await client.query(`INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (1, 'LATE', '2026-06-10T23:59:59.999999Z', 2, 3)`);
  const audit = await auditBlockingLocks(ctx, url);

  const report = await restore(ctx, { table: 'trades', day: DAY });

  expect(report).toMatchObject({ rows_loaded: 126, rows_swept: 1, default_rows: 1 });
  const reading = audit.filter((a) => READS_ROWS.test(a.statement));
  // Not vacuous: the load (one COPY, audited while open), the indexes, the keys.
  expect(reading.filter((a) => a.statement.startsWith('COPY')).length).toBe(1);
  expect(reading.some((a) => a.statement.includes('VALIDATE CONSTRAINT'))).toBe(true);
  expect(reading.filter((a) => a.blocking.length > 0)).toEqual([]);
  const holding = audit.filter((a) => a.blocking.length > 0);
  expect(holding.length).toBeGreaterThan(0);
  expect(holding.every((a) => /ATTACH PARTITION/.test(a.statement))).toBe(true);
  const { rows } = await client.query(`SELECT tableoid::regclass::text AS part, price::text FROM trades WHERE symbol = 'LATE'`);
  expect(rows).toEqual([{ part: 'trades_2026_06_10', price: '2' }]);
});

/** The trades rows of DAY other than those of `exceptSymbol`, as text, in key order: the archived ones. */
async function dayRows(url: string, exceptSymbol: string): Promise<{ rows: number; text: string }> {
  const client = await connect(url);
  const { rows } = await client.query<{ rows: number; text: string }>(
    `SELECT count(*)::int AS rows, coalesce(md5(string_agg(t::text, '|' ORDER BY id, ts)), '') AS text FROM trades t
      WHERE ts >= '2026-06-10 00:00+00' AND ts < '2026-06-11 00:00+00' AND symbol <> $1`,
    [exceptSymbol],
  );
  return rows[0] as { rows: number; text: string };
}

const WRITER_SYMBOL = 'LOAD-TIME';

/**
 * Runs `run` (a restore of trades DAY on `ctx`) with an ingester writing rows of DAY: a writer
 * thread started when the restore starts its COPY of the archived rows, which the restore then
 * waits for until `atLeast` of the writer's trades rows have committed (so they are written while
 * the archive loads, after the plan), and which goes on writing through the attach until the
 * restore returns. `duringLoad` runs once there too. Returns the restore's outcome and what the
 * writer committed.
 */
async function restoreWhileWriting<T>(
  ctx: OperationContext,
  url: string,
  run: () => Promise<T>,
  options: { atLeast?: number; duringLoad?: (client: pg.Client) => Promise<void> } = {},
): Promise<{ outcome: PromiseSettledResult<T>; writer: WriterResult; writtenDuringLoad: number }> {
  const { atLeast = 20 } = options;
  const watcher = await connect(url);
  // The writer's ts: now() plus this offset is DAY at noon (and a few seconds after).
  // In seconds: PostgreSQL 12-14 refuse a milliseconds field beyond the int32 range.
  const offset = `${(Date.parse(`${DAY}T12:00:00Z`) - Date.now()) / 1000} seconds`;
  let writer: ReturnType<typeof startWriter> | undefined;
  let writtenDuringLoad = 0;
  interceptStatements(ctx, {
    async before(text) {
      if (writer || !/^COPY "trades_2026_06_10_restore"/.test(text)) return;
      writer = startWriter(url, { symbols: [[WRITER_SYMBOL, offset]], applicationName: 'test-restore-writer' });
      for (let tries = 0; writtenDuringLoad < atLeast; tries += 1) {
        if (tries > 3000) throw new Error('the writer wrote no rows of the day in time');
        await new Promise((resolve) => setTimeout(resolve, 10));
        const { rows } = await watcher.query<{ n: number }>('SELECT count(*)::int AS n FROM trades WHERE symbol = $1', [WRITER_SYMBOL]);
        writtenDuringLoad = rows[0]?.n ?? 0;
      }
      await options.duringLoad?.(watcher);
    },
  });
  const [outcome] = await Promise.allSettled([run()]);
  if (!writer) throw new Error('the restore loaded no rows: the writer never started');
  const result = await writer.stop();
  return { outcome: outcome as PromiseSettledResult<T>, writer: result, writtenDuringLoad };
}

/** Where the writer's trades rows are, per relation, and how many. */
async function writerRowsByRelation(url: string): Promise<Record<string, number>> {
  const client = await connect(url);
  const { rows } = await client.query<{ part: string; n: number }>(
    `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM trades WHERE symbol = $1 GROUP BY 1`,
    [WRITER_SYMBOL],
  );
  return Object.fromEntries(rows.map((r) => [r.part, r.n]));
}

it('keeps the rows an ingester writes into the (empty) day partition while the archive loads: moved into the restored day after the attach', async () => {
  const { url, ctx } = await archivedDatabase();
  const client = await connect(url);
  const archived = await dayRows(url, WRITER_SYMBOL);
  // An archived row whose key a late write takes too (its id and ts, other values).
  const { rows: keyRows } = await client.query<{ id: string; ts: string }>(
    `SELECT id::text, ts::text FROM trades_2026_06_10 ORDER BY id LIMIT 1`,
  );
  const key = keyRows[0] as { id: string; ts: string };
  const archivedButKey = await client.query<{ text: string }>(
    `SELECT md5(string_agg(t::text, '|' ORDER BY id, ts)) AS text FROM trades_2026_06_10 t WHERE id <> $1`,
    [key.id],
  );
  // The day was pruned after it was archived; its partition is back, empty (as the partitions run makes it).
  await client.query('DROP TABLE trades_2026_06_10');
  await client.query(
    `CREATE TABLE trades_2026_06_10 PARTITION OF trades FOR VALUES FROM ('2026-06-10 00:00+00') TO ('2026-06-11 00:00+00')`,
  );
  const audit = await auditBlockingLocks(ctx, url);

  const { outcome, writer, writtenDuringLoad } = await restoreWhileWriting(ctx, url, () => restore(ctx, { table: 'trades', day: DAY }), {
    duringLoad: async (watcher) => {
      await watcher.query(`INSERT INTO trades (id, exchange_id, symbol, ts, price, size) VALUES ($1, 1, 'SAME-KEY', $2, 42, 1)`, [
        key.id,
        key.ts,
      ]);
    },
  });

  if (outcome.status === 'rejected') throw outcome.reason;
  const report = outcome.value;
  expect(writer.failed).toBe(0);
  const written = writer.inserted[`trades/${WRITER_SYMBOL}`] ?? 0;
  expect(writtenDuringLoad).toBeGreaterThanOrEqual(20);
  // Every row the writer committed is there, in the restored day: none dropped with the old partition.
  expect(await writerRowsByRelation(url)).toEqual({ trades_2026_06_10: written });
  expect(report).toMatchObject({ status: 'restored', partition_rows_before: 0, rows_loaded: 126, kept_table: null });
  // Those written before the attach were moved in (the key's late row among them); those after went straight there.
  expect(report.late_rows).toBeGreaterThanOrEqual(writtenDuringLoad + 1);
  expect(report.late_rows).toBeLessThanOrEqual(written + 1);
  // The archived rows are all back, but the one whose key the late write took: the late row won.
  const after = await dayRows(url, WRITER_SYMBOL);
  expect(after.rows).toBe(archived.rows);
  const { rows: late } = await client.query(`SELECT symbol, price::float8 AS price FROM trades WHERE id = $1 AND ts = $2`, [
    key.id,
    key.ts,
  ]);
  expect(late).toEqual([{ symbol: 'SAME-KEY', price: 42 }]);
  const { rows: others } = await client.query<{ text: string }>(
    `SELECT md5(string_agg(t::text, '|' ORDER BY id, ts)) AS text FROM trades_2026_06_10 t WHERE id <> $1 AND symbol <> $2`,
    [key.id, WRITER_SYMBOL],
  );
  expect(others[0]?.text).toBe(archivedButKey.rows[0]?.text);
  expect(await relationsLike(url, 'trades_2026_06_10_%')).toEqual([]);
  // The late rows were read and moved holding nothing inserts wait for.
  const moving = audit.filter((a) => a.statement.includes('FROM "trades_2026_06_10_replaced"'));
  expect(moving.length).toBeGreaterThan(0);
  expect(moving.filter((a) => a.blocking.length > 0)).toEqual([]);
});

it('with --replace over an empty partition, moves the rows written into it while the archive loads, as without it: nothing was replaced', async () => {
  const { url, ctx } = await archivedDatabase();
  const client = await connect(url);
  const archived = await dayRows(url, WRITER_SYMBOL);
  await client.query('DELETE FROM trades_2026_06_10');

  const { outcome, writer, writtenDuringLoad } = await restoreWhileWriting(ctx, url, () =>
    restore(ctx, { table: 'trades', day: DAY, replace: true }),
  );

  if (outcome.status === 'rejected') throw outcome.reason;
  expect(writer.failed).toBe(0);
  const written = writer.inserted[`trades/${WRITER_SYMBOL}`] ?? 0;
  expect(await writerRowsByRelation(url)).toEqual({ trades_2026_06_10: written });
  expect(outcome.value).toMatchObject({ status: 'restored', partition_rows_before: 0, kept_table: null });
  expect(outcome.value.late_rows).toBeGreaterThanOrEqual(writtenDuringLoad);
  expect(await dayRows(url, WRITER_SYMBOL)).toEqual(archived);
  expect(await relationsLike(url, 'trades_2026_06_10_%')).toEqual([]);
});

it('sweeps in the rows an ingester writes into the DEFAULT partition while the archive loads (the day had no partition)', async () => {
  const { url, directory } = await archivedDatabase();
  // A batch size above what the writer writes in the test, so the re-check before the attach lets them through.
  const ctx = withArchive(testContext(url, { now: NOW, settings: { batchSize: 100_000 } }), { directory, prefix: PREFIX });
  const client = await connect(url);
  const archived = await dayRows(url, WRITER_SYMBOL);
  await client.query('DROP TABLE trades_2026_06_10');

  const { outcome, writer, writtenDuringLoad } = await restoreWhileWriting(ctx, url, () => restore(ctx, { table: 'trades', day: DAY }));

  if (outcome.status === 'rejected') throw outcome.reason;
  const report = outcome.value;
  expect(writer.failed).toBe(0);
  const written = writer.inserted[`trades/${WRITER_SYMBOL}`] ?? 0;
  expect(await writerRowsByRelation(url)).toEqual({ trades_2026_06_10: written });
  expect(report).toMatchObject({ status: 'restored', partition_rows_before: null, default_rows: 0, late_rows: 0, kept_table: null });
  expect(report.rows_swept).toBeGreaterThanOrEqual(writtenDuringLoad);
  expect(await dayRows(url, WRITER_SYMBOL)).toEqual(archived);
});

it('refuses, changing nothing, when more rows than MAINTENANCE_BATCH_SIZE came into the DEFAULT partition while the archive loaded', async () => {
  const { url, directory } = await archivedDatabase();
  const ctx = withArchive(testContext(url, { now: NOW, settings: { batchSize: 10 } }), { directory, prefix: PREFIX });
  const client = await connect(url);
  await client.query('DROP TABLE trades_2026_06_10');

  const { outcome, writer } = await restoreWhileWriting(ctx, url, () => restore(ctx, { table: 'trades', day: DAY }), { atLeast: 11 });

  expect(outcome.status).toBe('rejected');
  const reason = (outcome as PromiseRejectedResult).reason;
  expect(reason).toBeInstanceOf(InputError);
  expect(String(reason.message)).toBe(
    "restore trades 2026-06-10: more than 10 rows of 2026-06-10 (MAINTENANCE_BATCH_SIZE) were written, while the archive loaded, into trades_default; the attach would move them while it holds inserts back: nothing was changed; run partitions first (it gives them the day's partition), then restore with --replace",
  );
  const written = writer.inserted[`trades/${WRITER_SYMBOL}`] ?? 0;
  expect(await writerRowsByRelation(url)).toEqual({ trades_default: written });
  expect(await partitionsOf(url, 'trades')).not.toContain('trades_2026_06_10');
  expect(await restoreLeftovers(url)).toEqual([]);
});

it('with --replace, keeps the replaced partition (named in the report, with a warning) when rows were written to it while the archive loaded', async () => {
  const { url, ctx } = await archivedDatabase();
  const client = await connect(url);
  const archived = await dayRows(url, WRITER_SYMBOL);
  // The partition's rows changed since the archive, which is why it is replaced.
  await client.query(`UPDATE trades SET price = 7 WHERE id = (SELECT max(id) FROM trades_2026_06_10)`);
  const replacedRows = await client.query<{ text: string }>(
    `SELECT md5(string_agg(t::text, '|' ORDER BY id, ts)) AS text FROM trades_2026_06_10 t`,
  );
  const warnings: unknown[] = [];
  const watched = { ...ctx, log: { ...ctx.log, warn: (message: string, details?: unknown) => warnings.push({ message, details }) } };

  const { outcome, writer } = await restoreWhileWriting(watched, url, () => restore(watched, { table: 'trades', day: DAY, replace: true }));

  if (outcome.status === 'rejected') throw outcome.reason;
  const report = outcome.value;
  expect(writer.failed).toBe(0);
  const written = writer.inserted[`trades/${WRITER_SYMBOL}`] ?? 0;
  expect(report).toMatchObject({
    status: 'restored',
    partition_rows_before: 126,
    rows_loaded: 126,
    late_rows: 0,
    kept_table: 'trades_2026_06_10_replaced',
  });
  // The day holds the archive's rows, and the writer's rows that came after the attach.
  expect(await dayRows(url, WRITER_SYMBOL)).toEqual(archived);
  // Not one of the writer's rows lost: those written during the load are in the kept table, with the replaced rows.
  const byRelation = await writerRowsByRelation(url);
  const { rows: kept } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM trades_2026_06_10_replaced WHERE symbol = $1', [
    WRITER_SYMBOL,
  ]);
  expect((byRelation.trades_2026_06_10 ?? 0) + (kept[0]?.n ?? 0)).toBe(written);
  expect(kept[0]?.n).toBeGreaterThanOrEqual(20);
  const { rows: replaced } = await client.query<{ text: string }>(
    `SELECT md5(string_agg(t::text, '|' ORDER BY id, ts)) AS text FROM trades_2026_06_10_replaced t WHERE symbol <> $1`,
    [WRITER_SYMBOL],
  );
  expect(replaced[0]?.text).toBe(replacedRows.rows[0]?.text);
  expect(warnings).toEqual([
    expect.objectContaining({
      message: 'the restored day was written to while the archive loaded: rows not placed are kept',
      details: expect.objectContaining({ kept_table: 'trades_2026_06_10_replaced' }),
    }),
  ]);
  // The next restore of the day says what the kept table is before changing anything.
  const again = restore(ctx, { table: 'trades', day: DAY, replace: true });
  await expect(again).rejects.toBeInstanceOf(InputError);
  await expect(again).rejects.toThrow(
    /^restore trades 2026-06-10: trades_2026_06_10_replaced exists: an earlier restore of this day swapped/,
  );
});

it('refuses a day with no archive, and a corrupted object, changing nothing', async () => {
  const { url, ctx, directory } = await archivedDatabase();
  const client = await connect(url);
  await client.query(`DROP TABLE trades_2026_06_10`);
  const before = await dataFingerprint(url);

  const missing = restore(ctx, { table: 'funding_rates', day: DAY });
  await expect(missing).rejects.toBeInstanceOf(InputError);
  await expect(missing).rejects.toThrow(
    /^restore funding_rates 2026-06-10: nothing to restore: the archive ledger has no row for this day/,
  );

  await client.query(`UPDATE archive_ledger SET rows = rows + 1 WHERE table_name = 'trades'`);
  const disagreeing = restore(ctx, { table: 'trades', day: DAY });
  await expect(disagreeing).rejects.toBeInstanceOf(ArchiveIntegrityError);
  await expect(disagreeing).rejects.toThrow(
    /holds \d+ bytes and 126 rows, but the archive ledger recorded \d+ bytes and 127 rows: the object changed after it was archived; nothing was loaded$/,
  );
  await client.query(`UPDATE archive_ledger SET rows = rows - 1 WHERE table_name = 'trades'`);

  truncateSync(join(directory, archiveObjectKey(PREFIX, 'trades', DAY)), 1000);
  const corrupted = restore(ctx, { table: 'trades', day: DAY });
  await expect(corrupted).rejects.toBeInstanceOf(ArchiveIntegrityError);
  await expect(corrupted).rejects.toThrow(/^restore trades 2026-06-10: .* is not a readable Parquet file/);
  expect(await dataFingerprint(url)).toEqual(before);
  expect(await partitionsOf(url, 'trades')).not.toContain('trades_2026_06_10');
  expect(await restoreLeftovers(url)).toEqual([]);
});

it('finds the object under the layout key when the ledger has no row, and says so', async () => {
  const { url, ctx } = await archivedDatabase();
  const before = await dataFingerprint(url);
  const client = await connect(url);
  await client.query(`DROP TABLE trades_2026_06_10`);
  await client.query(`DELETE FROM archive_ledger WHERE table_name = 'trades'`);
  const report = await restore(ctx, { table: 'trades', day: DAY });
  expect(report).toMatchObject({ key_from: 'layout', ledger_rows: null, ledger_checksum_matches: null, rows_loaded: 126 });
  expect((await dataFingerprint(url)).trades).toEqual(before.trades);
});

it('runs from the command line: archive --to DIR, then restore --from DIR, dry run first', async () => {
  const url = await database();
  const directory = mkdtempSync(join(tmpdir(), 'restore-cli-'));
  afterFile(async () => rmSync(directory, { recursive: true, force: true }));
  const before = await dataFingerprint(url);
  const archived = await cli(['archive', '--to', directory, '--table', 'trades', '--day', DAY, '--database-url', url]);
  expect(archived.code, archived.stderr).toBe(0);
  const client = await connect(url);
  await client.query(`DROP TABLE trades_2026_06_10`);

  const dryRun = await cli(['restore', '--from', directory, '--table', 'trades', '--day', DAY, '--dry-run', '--database-url', url]);
  expect(dryRun.code, dryRun.stderr).toBe(0);
  expect(dryRun.stdout).toMatch(/^restore trades 2026-06-10 \(dry run: nothing was changed\)\n/);
  expect(dryRun.stdout).toMatch(/trades_2026_06_10 +no partition/);
  expect(dryRun.stdout).toMatch(/object size +[\d.]+ KiB, 126 rows \(ledger: 126\)/);

  const run = await cli(['restore', '--from', directory, '--table', 'trades', '--day', DAY, '--format', 'json', '--database-url', url]);
  expect(run.code, run.stderr).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ operation: 'restore', status: 'restored', rows_loaded: 126, key_from: 'ledger' });
  expect(await dataFingerprint(url)).toEqual(before);

  // A damaged object: exit 7, and the day (restored above) stays as it is.
  truncateSync(join(directory, archiveObjectKey(PREFIX, 'trades', DAY)), 100);
  const damaged = await cli(['restore', '--from', directory, '--table', 'trades', '--day', DAY, '--replace', '--database-url', url]);
  expect(damaged.code).toBe(7);
  expect(damaged.stderr).toMatch(/^error: restore trades 2026-06-10: .* is not a readable Parquet file: .*; nothing was loaded$/m);
  expect(await dataFingerprint(url)).toEqual(before);
});

it('refuses an unknown table or a day that is not one, before touching the database', async () => {
  const { ctx } = await archivedDatabase();
  for (const day of ['2026-02-30', '2026-6-10', '']) {
    const refused = restore(ctx, { table: 'trades', day });
    await expect(refused).rejects.toBeInstanceOf(InputError);
    await expect(refused).rejects.toThrow(`restore trades ${day}: must be a UTC day written YYYY-MM-DD`);
  }
  // Days JavaScript reads but no partition can cover.
  for (const day of ['0000-01-01', '0000-12-31', '-0001-01-01', '9999-12-31', '10000-01-01', '+10000-01-01']) {
    const refused = restore(ctx, { table: 'trades', day });
    await expect(refused).rejects.toBeInstanceOf(InputError);
    await expect(refused).rejects.toThrow(
      `restore trades ${day}: must be a day from 0001-01-01 to 9999-12-30: PostgreSQL has no year 0000, and a day partition no BC or five-digit year (9999-12-31 has no next day to end at)`,
    );
  }
});

it('stops at the Lambda deadline between two steps, leaves the day as it was, and says a new restore starts it over', async () => {
  const { url, ctx } = await archivedDatabase();
  const client = await connect(url);
  await client.query(`DROP TABLE trades_2026_06_10`);
  // Time enough for the checks and the first row group, then inside the reserve.
  let calls = 0;
  const nearDeadline = { ...ctx, timeLeftMs: () => (calls++ < 3 ? 600_000 : 1_000) };

  const stopped = restore(nearDeadline, { table: 'trades', day: DAY });

  await expect(stopped).rejects.toBeInstanceOf(DeadlineError);
  await expect(stopped).rejects.toThrow(/the day is left as it was \(what was loaded is dropped\), and a new restore of it starts over/);
  expect(calls).toBeGreaterThan(3);
  expect(await partitionsOf(url, 'trades')).not.toContain('trades_2026_06_10');
  expect(await restoreLeftovers(url)).toEqual([]);
  const rerun = await restore(ctx, { table: 'trades', day: DAY });
  expect(rerun.status).toBe('restored');
});
