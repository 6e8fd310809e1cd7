import { PassThrough } from 'node:stream';
import { ParquetWriter } from 'hyparquet-writer';
import type pg from 'pg';
import { quoteIdent } from '../db/identifiers';
import type { TimeSeriesTable } from '../tables';
import { exportSelectSql, partitionCheckSql } from './export-sql';
import { ARCHIVE_COLUMNS, type ArchiveColumn, type ArchiveStore } from './layout';
import { objectHasher } from './object-digest';
import { parquetSchema } from './parquet-schema';
import { StreamSink } from './parquet-sink';
import { checksumText, rowChecksum, toParquetValue } from './values';

/**
 * Rows per FETCH and per row group: the research measured 20-25k-row groups at 175-230 MiB peak
 * RSS for the whole process (50k-row groups: 270-305 MiB), whatever the partition's size.
 */
export const ROW_GROUP_ROWS = 20_000;

/** One day partition to export. */
export interface PartitionTarget {
  table: TimeSeriesTable;
  day: string;
  relation: string;
}

/** What the export wrote, before verification. */
export interface PartitionExport {
  rows: number;
  bytes: number;
  /** The rows' checksum (see export-sql.ts, partitionCheckSql). */
  checksum: string;
  /** SHA-256 (hex) of the bytes handed to the store (see object-digest.ts). */
  sha256: string;
}

/** A NUMERIC column with values DECIMAL(38,18) cannot hold exactly. */
export interface DecimalMisfit {
  column: string;
  count: number;
  example: string;
}

/** The partition holds values the archive cannot keep exactly: nothing was written. */
export class DecimalMisfitError extends Error {
  constructor(
    readonly target: PartitionTarget,
    readonly misfits: DecimalMisfit[],
  ) {
    const list = misfits.map((m) => `${m.column}: ${m.count} value${m.count === 1 ? '' : 's'}, e.g. ${m.example}`).join('; ');
    super(
      `${target.relation} holds values DECIMAL(38,18) cannot hold exactly (20 or more integer digits, more than 18 fraction digits, NaN or Infinity): ${list}. Nothing was written; the day stays unarchived, so prune will not drop it. Correct or delete those rows (they are the ones the query in docs/archive.md, "Values that do not fit", finds), then run archive again`,
    );
    this.name = 'DecimalMisfitError';
  }
}

/** Called between row groups; throws to abandon the export (the upload is then aborted). */
export type ExportGuard = () => void;

/**
 * Writes one day partition to `key` as Parquet, from one REPEATABLE READ READ ONLY snapshot:
 * first one scan counts the rows, sums their checksums and looks for NUMERIC values
 * DECIMAL(38,18) cannot hold (any: nothing is written, DecimalMisfitError); then a server-side
 * cursor streams the rows as exact text, ROW_GROUP_ROWS at a time, into the Parquet writer and
 * on to the store. Before the footer is written, the streamed rows' count and checksum must
 * equal the scan's; otherwise the export is abandoned, and the store is left without an object
 * under the key (or with the one it had). The snapshot's locks are ACCESS SHARE on the
 * partition and its parent: inserts never wait for them; a DROP or DETACH of this partition
 * does, under its own lock_timeout. Cost: two sequential scans of the partition, and the
 * transaction holds back the xmin horizon (VACUUM's cleanup) for as long as the export runs.
 */
export async function exportPartition(
  client: pg.ClientBase,
  store: ArchiveStore,
  target: PartitionTarget,
  key: string,
  guard: ExportGuard = () => {},
): Promise<PartitionExport> {
  const columns = ARCHIVE_COLUMNS[target.table];
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const expected = await checkPartition(client, target, columns);
    await client.query(`DECLARE archive_rows NO SCROLL CURSOR FOR ${exportSelectSql(target.relation, columns)}`);
    const written = await writeRows(client, store, key, columns, expected, guard, target);
    await client.query('COMMIT');
    return written;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

interface CheckResult {
  rows: number;
  checksum: string;
}

async function checkPartition(client: pg.ClientBase, target: PartitionTarget, columns: readonly ArchiveColumn[]): Promise<CheckResult> {
  const { rows } = await client.query<Record<string, string>>(partitionCheckSql(target.relation, columns));
  const row = rows[0];
  if (!row) throw new Error(`the check of ${quoteIdent(target.relation)} returned no row`);
  const decimals = columns.filter((column) => column.kind === 'decimal');
  const misfits = decimals.flatMap((column, i) => {
    const count = Number(row[`misfit_count_${i}`]);
    return count > 0 ? [{ column: column.name, count, example: String(row[`misfit_example_${i}`]) }] : [];
  });
  if (misfits.length > 0) throw new DecimalMisfitError(target, misfits);
  return { rows: Number(row.rows), checksum: checksumText(row.checksum_sum ?? '0') };
}

/**
 * Fetches the cursor into row groups and streams the Parquet file into `store.put`. Either the
 * whole file reaches the key, or the stream is destroyed with the error and the store discards
 * what it had received.
 */
async function writeRows(
  client: pg.ClientBase,
  store: ArchiveStore,
  key: string,
  columns: readonly ArchiveColumn[],
  expected: CheckResult,
  guard: ExportGuard,
  target: PartitionTarget,
): Promise<PartitionExport> {
  // Two row groups of compressed bytes in flight at most, then the writer waits for the store.
  const stream = new PassThrough({ highWaterMark: 8 << 20 });
  // Failures travel through the promises below; a destroyed stream must not also throw an
  // 'error' event nobody listens to (the store may not be reading it yet).
  stream.on('error', () => {});
  const putting = store.put(key, stream);
  // A store that fails stops reading: destroying the stream wakes a writer waiting for 'drain'.
  putting.catch((error: unknown) => stream.destroy(error instanceof Error ? error : new Error(String(error))));
  try {
    const hasher = objectHasher();
    const writer = new ParquetWriter({ writer: new StreamSink(stream, hasher), schema: parquetSchema(columns), codec: 'SNAPPY' });
    let rows = 0;
    let sum = 0n;
    for (;;) {
      guard();
      const batch = await client.query<(string | null)[]>({ text: `FETCH ${ROW_GROUP_ROWS} FROM archive_rows`, rowMode: 'array' });
      if (batch.rows.length === 0) break;
      for (const row of batch.rows) sum += rowChecksum(row);
      rows += batch.rows.length;
      const columnData = columns.map((column, i) => ({
        name: column.name,
        data: batch.rows.map((row) => toParquetValue(column, row[i] ?? null)),
      }));
      await writer.write({ columnData, rowGroupSize: ROW_GROUP_ROWS });
    }
    const checksum = checksumText(sum);
    if (rows !== expected.rows || checksum !== expected.checksum) {
      throw new Error(
        `${target.relation}: the rows streamed (${rows}, checksum ${checksum}) differ from the rows counted in the same snapshot (${expected.rows}, ${expected.checksum}); nothing was recorded. This should not happen: please report it`,
      );
    }
    await writer.finish();
    const { bytes } = await putting;
    return { rows, bytes, checksum, sha256: hasher.digest() };
  } catch (error) {
    stream.destroy(error instanceof Error ? error : new Error(String(error)));
    // When the store failed first, the writer only saw the stream close: the store's error says why.
    const storeError: unknown = await putting.then(
      () => undefined,
      (failure: unknown) => failure,
    );
    throw storeError ?? error;
  }
}
