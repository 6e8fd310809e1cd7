import type pg from 'pg';
import { type CopyToStreamQuery as CopyToStream, to as copyTo } from 'pg-copy-streams';
import type { TimeSeriesTable } from '../tables';
import { ArrowBatchBuilder, DecimalOverflow } from './arrow-columns';
import { CopyRowSplitter, StreamTotals } from './copy-rows';
import { checkPartitionRows, EXPORT_SESSION_SQL, exportCopySql } from './export-sql';
import { ARCHIVE_COLUMNS, type ArchiveColumn } from './layout';
import { objectHasher } from './object-digest';
import { encodeParquet } from './parquet-encoder';
import type { ArchiveStore } from './store';

/**
 * Rows per Arrow batch handed to the writer, and per row group. Memory holds about one batch
 * of Arrow columns and one row group of encoded pages (docs/archive.md, "Time and memory").
 */
export const BATCH_ROWS = 65_536;
export const ROW_GROUP_ROWS = 1_048_576;
/** How often the export asks its guard whether to go on (the Lambda deadline). */
const GUARD_EVERY_ROWS = 8_192;

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

/** Called every GUARD_EVERY_ROWS rows with the rows read so far; throws to abandon the export (the upload is then aborted). */
export type ExportGuard = (rowsSoFar: number) => void;

/**
 * Writes one day partition to `key` as Parquet, from one scan in one REPEATABLE READ READ ONLY
 * snapshot: `COPY (SELECT <columns>) TO STDOUT` streams the rows as text, each row becomes Arrow
 * values and its checksum share (arrow-columns.ts, row-digest.ts: the same checksum
 * partitionCheckSql computes in SQL), and parquet-wasm encodes the batches into the store as
 * they come. A NUMERIC value DECIMAL(38,18) cannot hold stops the export
 * (nothing is written) and one more scan finds every such value for the error. The snapshot's
 * locks are ACCESS SHARE on the partition and its parent: inserts never wait for them; a DROP or
 * DETACH of this partition does, under its own lock_timeout. Cost: one sequential scan and the
 * text of each value on the server, one md5 per row here; the transaction holds back the xmin horizon while the export runs.
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
    await client.query(EXPORT_SESSION_SQL);
    const written = await writeRows(client, store, key, columns, guard, target);
    await client.query('COMMIT');
    return written;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    if (error instanceof DecimalOverflow) throw await misfitError(client, target, columns);
    throw error;
  }
}

/** The misfits, found by one more scan of the partition (only after the export met one). */
async function misfitError(client: pg.ClientBase, target: PartitionTarget, columns: readonly ArchiveColumn[]): Promise<Error> {
  const { row } = await checkPartitionRows(client, target.relation, columns);
  const decimals = columns.filter((column) => column.kind === 'decimal');
  const misfits = decimals.flatMap((column, i) => {
    const count = Number(row[`misfit_count_${i}`]);
    return count > 0 ? [{ column: column.name, count, example: String(row[`misfit_example_${i}`]) }] : [];
  });
  return new DecimalMisfitError(target, misfits);
}

/**
 * The COPY's rows as Arrow IPC streams of BATCH_ROWS rows each, counting rows and summing
 * checksum shares into `totals` on the way. Calls `guard` every GUARD_EVERY_ROWS rows.
 */
async function* recordBatches(copy: CopyToStream, columns: readonly ArchiveColumn[], totals: StreamTotals, guard: ExportGuard) {
  const builder = new ArrowBatchBuilder(columns, BATCH_ROWS);
  const splitter = new CopyRowSplitter();
  // Leaving this loop early (a guard, a misfit) must not destroy the COPY: the session stays
  // in COPY mode until every row is read (see drain).
  for await (const chunk of copy.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>) {
    const ready: Uint8Array[] = [];
    splitter.push(chunk, (bytes, start, end) => {
      const [high, low] = builder.appendRow(bytes, start, end);
      totals.add(high, low);
      if (totals.rows % GUARD_EVERY_ROWS === 0) guard(totals.rows);
      if (builder.full) ready.push(builder.takeIpc());
    });
    yield* ready;
  }
  splitter.end();
  if (builder.rows > 0) yield builder.takeIpc();
}

/**
 * Streams the partition's rows through the Parquet writer into `store.put`. Either the whole
 * file reaches the key, or the byte stream fails and the store discards what it received. A
 * failed or abandoned export reads the rest of the COPY before the session is free again (no
 * statement can be sent mid-COPY).
 */
async function writeRows(
  client: pg.ClientBase,
  store: ArchiveStore,
  key: string,
  columns: readonly ArchiveColumn[],
  guard: ExportGuard,
  target: PartitionTarget,
): Promise<PartitionExport> {
  const copy = client.query(copyTo(exportCopySql(target.relation, columns)));
  const totals = new StreamTotals();
  // The store may report a failure of its input as its own: keep the original (a misfit, a deadline).
  let inputFailure: unknown;
  const batches = (async function* () {
    try {
      yield* recordBatches(copy, columns, totals, guard);
    } catch (error) {
      inputFailure = error;
      throw error;
    }
  })();
  // The store starts at once (a file opened, an upload begun), before the first row group
  // exists; every byte it is given is hashed on the way (the content hash of object-digest.ts).
  const hasher = objectHasher();
  const parquet = (async function* () {
    for await (const chunk of encodeParquet(batches, ROW_GROUP_ROWS)) {
      hasher.update(chunk);
      yield chunk;
    }
  })();
  try {
    const { bytes } = await store.put(key, parquet);
    if (copy.rowCount !== totals.rows) {
      throw new Error(
        `${target.relation}: the COPY sent ${copy.rowCount} rows but ${totals.rows} were read; nothing was recorded. This should not happen: please report it`,
      );
    }
    return { rows: totals.rows, bytes, checksum: totals.checksum(), sha256: hasher.digest() };
  } catch (error) {
    await drain(copy);
    throw inputFailure ?? error;
  }
}

/** Reads a COPY stream to its end, discarding the rows, so the session can run statements again. */
async function drain(copy: CopyToStream): Promise<void> {
  if (copy.readableEnded || copy.destroyed) return;
  copy.resume();
  await new Promise<void>((resolve) => {
    copy.once('end', resolve);
    copy.once('error', () => resolve());
    copy.once('close', resolve);
  });
}
