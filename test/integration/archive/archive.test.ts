import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ArchiveReport, archive } from '../../../functions/operations/archive/archive';
import { createDirectoryStore } from '../../../functions/shared/archive/dir-store';
import { ROW_GROUP_ROWS } from '../../../functions/shared/archive/export-partition';
import { readFooter } from '../../../functions/shared/archive/footer';
import { ARCHIVE_COLUMNS, archiveObjectKey, POSTGRES_TYPES } from '../../../functions/shared/archive/layout';
import { readLedger } from '../../../functions/shared/archive/ledger';
import { partitionName } from '../../../functions/shared/days';
import { InputError, LockBusyError, PartialFailureError } from '../../../functions/shared/errors';
import { TIME_SERIES_TABLES, type TimeSeriesTable } from '../../../functions/shared/tables';
import { archiveDirectory, downloadObject, ledgerOf, seededCopies, settleModifications, withArchive } from '../../support/archive';
import { insertEdgeRows, insertManyTrades, postgresRows } from '../../support/archive-rows';
import { connect, holdMaintenanceLock, testContext } from '../../support/database';
import { readArchivedFile } from '../../support/parquet-reader';
import { type LocalS3, startLocalS3 } from '../../support/s3';

/*
 * Today is pinned at 2026-06-20: DAY (06-17) holds the edge rows of every table and 45,000
 * trades (three row groups); with the default of 2 days, 06-18 and older are archived.
 */
const NOW = new Date('2026-06-20T12:00:00Z');
const DAY = '2026-06-17';
const MANY_TRADES = 45_000;
const PREFIX = 'perps-archive';
const relationsOf = (day: string) => TIME_SERIES_TABLES.map((table) => partitionName(table, day));
/** Rows the seed puts in DAY's partitions: edge rows (4 trades, 2 per other table) and the many trades. */
const SEEDED_ROWS = 4 + 2 + 2 + 2 + MANY_TRADES;

const seeded = seededCopies(NOW, async (client) => {
  await insertEdgeRows(client, DAY);
  await insertManyTrades(client, DAY, MANY_TRADES);
});

/** A copy of the seeded database, its statistics settled, and a context on it writing to `archive`. */
async function database(archive: Parameters<typeof withArchive>[1] = { directory: archiveDirectory() }) {
  const url = await seeded();
  // A copied database starts with empty statistics: its counters are the inserts since, none yet.
  await settleModifications(url, relationsOf(DAY), 0);
  return { url, ctx: withArchive(testContext(url, { now: NOW }), archive) };
}

const byStatus = (report: ArchiveReport) => report.partitions.map((p) => `${p.partition} ${p.status}`).sort();

/** Every table's DAY file read by DuckDB equals its partition in PostgreSQL, value for value. */
async function expectExactCopies(url: string, fileOf: (table: TimeSeriesTable) => Promise<string>): Promise<void> {
  const client = await connect(url);
  for (const table of TIME_SERIES_TABLES) {
    const file = await readArchivedFile(await fileOf(table));
    const expected = await postgresRows(client, table, partitionName(table, DAY));
    expect(file.rows.length, table).toBe(expected.length);
    expect(file.rows, table).toEqual(expected);
  }
  await client.end();
}

describe('the archive layout', () => {
  it('has every column of every time-series table, in table order, with its type and nullability (the migrated catalog)', async () => {
    const { url } = await database();
    const client = await connect(url);
    for (const table of TIME_SERIES_TABLES) {
      const { rows } = await client.query<{ name: string; type: string; nullable: boolean }>(
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable
           FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [table],
      );
      const layout = ARCHIVE_COLUMNS[table].map((c) => ({ name: c.name, type: POSTGRES_TYPES[c.kind], nullable: c.nullable }));
      expect(layout, table).toEqual(rows);
    }
    await client.end();
  });
});

describe('archive to a directory', () => {
  let url: string;
  let directory: string;
  let report: ArchiveReport;
  beforeAll(async () => {
    directory = archiveDirectory();
    ({ url } = await database());
    report = await archive(withArchive(testContext(url, { now: NOW }), { directory }), { archiveAfterDays: 2 });
  });

  it('archives each closed day partition once, and reports rows, bytes, key and seconds', () => {
    expect(byStatus(report)).toEqual(
      relationsOf(DAY)
        .map((r) => `${r} archived`)
        .sort(),
    );
    const trades = report.partitions.find((p) => p.table === 'trades');
    expect(trades).toMatchObject({ day: DAY, reason: 'not archived', rows: MANY_TRADES + 4, key: archiveObjectKey(PREFIX, 'trades', DAY) });
    expect(trades?.seconds).toBeGreaterThanOrEqual(0);
    expect(report).toMatchObject({
      location: `file://${directory}`,
      partitions_archived: 4,
      rows_archived: SEEDED_ROWS,
      partitions_failed: 0,
    });
    expect(report.bytes_archived).toBe(report.partitions.reduce((sum, p) => sum + statSync(join(directory, p.key)).size, 0));
  });

  it('keeps every row and value exactly: DuckDB reads what PostgreSQL holds (decimals, microseconds, JSON, NULLs)', async () => {
    await expectExactCopies(url, async (table) => join(directory, archiveObjectKey(PREFIX, table, DAY)));
  });

  it('writes the contract types: DECIMAL(38,18), TIMESTAMP WITH TIME ZONE, BIGINT, INTEGER, VARCHAR', async () => {
    const { columns } = await readArchivedFile(join(directory, archiveObjectKey(PREFIX, 'trades', DAY)));
    expect(columns).toEqual([
      { name: 'id', type: 'BIGINT' },
      { name: 'exchange_id', type: 'INTEGER' },
      { name: 'market_id', type: 'BIGINT' },
      { name: 'symbol', type: 'VARCHAR' },
      { name: 'ts', type: 'TIMESTAMP WITH TIME ZONE' },
      { name: 'received_at', type: 'TIMESTAMP WITH TIME ZONE' },
      { name: 'trade_id', type: 'VARCHAR' },
      { name: 'price', type: 'DECIMAL(38,18)' },
      { name: 'size', type: 'DECIMAL(38,18)' },
      { name: 'side', type: 'VARCHAR' },
      { name: 'raw', type: 'VARCHAR' },
    ]);
  });

  it('records a ledger row per day partition only after verifying it: rows, bytes and footer agree with the file', async () => {
    const ledger = await ledgerOf(url);
    expect(ledger.map((row) => `${row.table_name} ${row.day}`)).toEqual(TIME_SERIES_TABLES.map((t) => `${t} ${DAY}`).sort());
    const store = createDirectoryStore(directory);
    for (const row of ledger) {
      expect(row).toMatchObject({ location: `file://${directory}`, object_key: archiveObjectKey(PREFIX, row.table_name, DAY) });
      expect(row.checksum).toMatch(/^md5-60-sum:\d+$/);
      expect(row.bytes).toBe(statSync(join(directory, row.object_key)).size);
      const footer = await readFooter(store, row.object_key);
      expect(footer.rows).toBe(row.rows);
    }
    const trades = ledger.find((row) => row.table_name === 'trades');
    expect((await readFooter(store, archiveObjectKey(PREFIX, 'trades', DAY))).rowGroups).toBe(
      Math.ceil(Number(trades?.rows) / ROW_GROUP_ROWS),
    );
  });

  it('leaves no temporary file behind', async () => {
    const files = readdirSync(directory, { recursive: true }).map(String);
    expect(files.filter((file) => file.endsWith('.partial'))).toEqual([]);
  });

  it('the next run finds nothing to do', async () => {
    const again = await archive(withArchive(testContext(url, { now: NOW }), { directory }), { archiveAfterDays: 2 });
    expect(again).toMatchObject({ partitions: [], partitions_already_archived: 4, partitions_archived: 0 });
  });
});

describe('archive to S3 (s3rver)', () => {
  let s3: LocalS3;
  beforeAll(async () => {
    s3 = await startLocalS3();
    return () => s3.stop();
  });

  it('uploads each day partition, verified, and DuckDB reads it back exactly', async () => {
    const { url, ctx } = await database({ bucket: s3.bucket, endpointUrl: s3.endpointUrl });
    const report = await archive(ctx, { archiveAfterDays: 2 });
    expect(byStatus(report)).toEqual(
      relationsOf(DAY)
        .map((r) => `${r} archived`)
        .sort(),
    );
    expect(report.location).toBe(`s3://${s3.bucket}`);
    expect(await s3.keys()).toEqual(TIME_SERIES_TABLES.map((table) => archiveObjectKey(PREFIX, table, DAY)).sort());
    await expectExactCopies(url, (table) => downloadObject(s3.client, s3.bucket, archiveObjectKey(PREFIX, table, DAY)));
  });
});

describe('what archive refuses or leaves alone', () => {
  it('a value DECIMAL(38,18) cannot hold: that partition is refused (table, day, column, count, example), nothing written or recorded', async () => {
    const directory = archiveDirectory();
    const { url, ctx } = await database({ directory });
    const client = await connect(url);
    await client.query(
      `INSERT INTO funding_rates (exchange_id, symbol, ts, rate, next_rate) VALUES
         (1, 'X', '${DAY} 01:00+00', 100000000000000000000, 0.0000000000000000001),
         (1, 'X', '${DAY} 02:00+00', 'NaN', NULL),
         (1, 'X', '${DAY} 03:00+00', 1, 1.0000000000000000000000)`,
    );
    const error = await archive(ctx, { archiveAfterDays: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartialFailureError);
    const report = (error as PartialFailureError).report as ArchiveReport;
    const refused = report.partitions.filter((p) => p.status !== 'archived');
    expect(refused).toEqual([expect.objectContaining({ table: 'funding_rates', day: DAY, status: 'refused' })]);
    expect(refused[0]?.error).toContain('funding_rates_2026_06_17 holds values DECIMAL(38,18) cannot hold exactly');
    expect(refused[0]?.error).toContain('rate: 2 values, e.g. 100000000000000000000');
    expect(refused[0]?.error).toContain('next_rate: 1 value, e.g. 0.0000000000000000001');
    expect(existsSync(join(directory, archiveObjectKey(PREFIX, 'funding_rates', DAY)))).toBe(false);
    expect((await readLedger(client)).map((row) => row.table_name)).toEqual(['orderbooks', 'tickers', 'trades']);
    await client.end();
  });

  it('late rows: a day changed since its archive is archived again, with the new rows', async () => {
    const directory = archiveDirectory();
    const { url, ctx } = await database({ directory });
    await archive(ctx, { archiveAfterDays: 2, table: 'tickers' });
    const late = await connect(url);
    await late.query(`INSERT INTO tickers (exchange_id, symbol, ts, last_price) VALUES (3, 'LATE', '${DAY} 12:00+00', 1.25)`);
    await late.end();
    await settleModifications(url, [partitionName('tickers', DAY)], 1);
    const again = await archive(ctx, { archiveAfterDays: 2, table: 'tickers' });
    expect(again.partitions).toEqual([
      expect.objectContaining({ day: DAY, reason: 'changed since archived', status: 'archived', rows: 3 }),
    ]);
    const { rows } = await readArchivedFile(join(directory, archiveObjectKey(PREFIX, 'tickers', DAY)));
    expect(rows.map((row) => row.symbol)).toContain('LATE');
    const client = await connect(url);
    expect((await readLedger(client, 'tickers'))[0]).toMatchObject({ rows: 3, source_modifications: 1 });
    await client.end();
  });

  it('a dry run lists what it would archive and writes nothing', async () => {
    const directory = archiveDirectory();
    const { url, ctx } = await database({ directory });
    const report = await archive(ctx, { archiveAfterDays: 2, dryRun: true });
    expect(byStatus(report)).toEqual(
      relationsOf(DAY)
        .map((r) => `${r} planned`)
        .sort(),
    );
    expect(readdirSync(directory)).toEqual([]);
    expect(await ledgerOf(url)).toEqual([]);
  });

  it('days younger than archiveAfterDays wait; --day picks one closed day, and refuses today', async () => {
    const { ctx } = await database();
    expect((await archive(ctx, { archiveAfterDays: 4, dryRun: true })).partitions).toEqual([]);
    const one = await archive(ctx, { archiveAfterDays: 30, table: 'trades', day: DAY, dryRun: true });
    expect(one.partitions.map((p) => p.partition)).toEqual([partitionName('trades', DAY)]);
    const today = await archive(ctx, { archiveAfterDays: 2, day: '2026-06-20' }).catch((e: unknown) => e);
    expect(today).toBeInstanceOf(InputError);
    expect((today as Error).message).toBe(
      'archive: day 2026-06-20 is not over yet (today is 2026-06-20, UTC): only a closed day partition, before today, can be archived',
    );
  });

  it('no archive configured: an InputError says what to set, before anything is read', async () => {
    const { url } = await database();
    const error = await archive(testContext(url, { now: NOW }), { archiveAfterDays: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(
      'archive: no archive is configured: set ARCHIVE_BUCKET to an S3 bucket (the stack sets it in AWS), or locally give --to DIR (ARCHIVE_DIR); ARCHIVE_S3_ENDPOINT_URL points the bucket at an S3-compatible server',
    );
  });

  it('another maintenance run holding the lock: LockBusyError, nothing archived', async () => {
    const { url, ctx } = await database();
    const held = await holdMaintenanceLock(url);
    const error = await archive(ctx, { archiveAfterDays: 2 }).catch((e: unknown) => e);
    await held.release();
    expect(error).toBeInstanceOf(LockBusyError);
    expect(await ledgerOf(url)).toEqual([]);
  });
});
