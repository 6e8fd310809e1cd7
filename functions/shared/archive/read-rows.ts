import { type AsyncBuffer, type FileMetaData, parquetMetadataAsync, parquetRead, type SchemaElement } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type { TimeSeriesTable } from '../tables';
import { ARCHIVE_COLUMNS, ARCHIVE_DECIMAL, type ArchiveColumn } from './layout';
import type { ArchiveStore } from './store';

/*
 * The archive read back exactly, as PostgreSQL input text. hyparquet's reader turns a DECIMAL
 * into a JS double and a TIMESTAMP into a Date (milliseconds): both lose digits. So the decimal
 * columns are read from a copy of the footer that no longer calls them DECIMAL (hyparquet then
 * hands over the raw 16-byte two's-complement unscaled values), and timestamps through a parser
 * that keeps the bigint microseconds. One row group at a time: memory is bounded by a row group,
 * not by the day.
 */

/**
 * One archived value as exact text, or null: the text the archive's checksum reads (see
 * export-sql.ts), which is also PostgreSQL input text for every kind but `timestamp`, given as
 * whole microseconds since 1970-01-01 UTC (timestampText makes it timestamptz input).
 */
export type ArchiveValue = string | null;

/** An archived object opened for reading: its footer, checked against the table's layout. */
export interface ArchiveFile {
  store: ArchiveStore;
  key: string;
  bytes: number;
  /** Rows the footer declares. */
  rows: number;
  rowGroups: number;
  metadata: FileMetaData;
  buffer: AsyncBuffer;
  /**
   * The whole object, once restore has checked it hashes to the ledger's SHA-256 (see
   * loadArchiveRows), as the Blob parquet-wasm reads: made at once from the bytes read, so the
   * object is held once, not twice (a Blob copies what it is made from).
   */
  verifiedObject?: Blob;
}

/** The object as hyparquet's AsyncBuffer: each slice is one ranged read through the store (explicit ranges only). */
export function archiveBuffer(store: ArchiveStore, key: string, bytes: number): AsyncBuffer {
  return {
    byteLength: bytes,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const chunk = await store.read(key, start, end ?? bytes);
      return chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer;
    },
  };
}

/**
 * Opens `key`: its size, its footer (one or two ranged reads), and a check that its columns are
 * the ones layout.ts gives `table`, in order and of the same types. Throws when the object is
 * missing, is not Parquet, or has another shape (nothing is read past the footer).
 */
export async function openArchiveFile(store: ArchiveStore, key: string, table: TimeSeriesTable): Promise<ArchiveFile> {
  const bytes = await store.size(key);
  if (bytes === null) throw new Error(`${store.location}/${key} does not exist`);
  const buffer = archiveBuffer(store, key, bytes);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (error) {
    throw new Error(`${store.location}/${key} (${bytes} bytes) is not a readable Parquet file: ${messageOf(error)}`, { cause: error });
  }
  const problems = schemaProblems(metadata.schema, ARCHIVE_COLUMNS[table]);
  if (problems.length > 0) {
    throw new Error(
      `${store.location}/${key} does not have the columns of ${table} (functions/shared/archive/layout.ts): ${problems.join('; ')}`,
    );
  }
  return { store, key, bytes, rows: Number(metadata.num_rows), rowGroups: metadata.row_groups.length, metadata, buffer };
}

/** What differs between a file's schema (root first, then flat columns) and the layout's columns. */
export function schemaProblems(schema: SchemaElement[], columns: readonly ArchiveColumn[]): string[] {
  const fileColumns = schema.slice(1);
  const names = fileColumns.map((element) => element.name);
  const expected = columns.map((column) => column.name);
  if (names.join(',') !== expected.join(',')) return [`columns are (${names.join(', ')}), expected (${expected.join(', ')})`];
  return columns.flatMap((column, i) => {
    const element = fileColumns[i] as SchemaElement;
    const wrong = typeProblem(element, column);
    return wrong ? [`${column.name}: ${wrong}`] : [];
  });
}

function typeProblem(element: SchemaElement, column: ArchiveColumn): string | undefined {
  const { type, type_length, precision, scale, logical_type } = element;
  switch (column.kind) {
    case 'int32':
      return type === 'INT32' ? undefined : `${type}, expected INT32`;
    case 'int64':
      return type === 'INT64' && !logical_type ? undefined : `${type} ${logical_type?.type ?? ''}, expected INT64`;
    case 'text':
    case 'json':
      return type === 'BYTE_ARRAY' ? undefined : `${type}, expected BYTE_ARRAY (UTF8)`;
    case 'timestamp':
      return type === 'INT64' && logical_type?.type === 'TIMESTAMP' && logical_type.unit === 'MICROS'
        ? undefined
        : `${type} ${logical_type?.type ?? ''}, expected INT64 TIMESTAMP(MICROS)`;
    case 'decimal': {
      const { precision: p, scale: s } = ARCHIVE_DECIMAL;
      return type === 'FIXED_LEN_BYTE_ARRAY' && type_length === 16 && precision === p && scale === s
        ? undefined
        : `${type}(${type_length}) DECIMAL(${precision},${scale}), expected FIXED_LEN_BYTE_ARRAY(16) DECIMAL(${p},${s})`;
    }
  }
}

/**
 * The file's rows, one row group per yielded batch, each value as exact text (ArchiveValue) in
 * the layout's column order. NUMERIC comes back exactly (DECIMAL(38,18) unscaled -> decimal text
 * without trailing fraction zeros), timestamps as microseconds, JSONB as its text.
 */
export async function* readArchiveRows(file: ArchiveFile, table: TimeSeriesTable): AsyncGenerator<ArchiveValue[][]> {
  const columns = ARCHIVE_COLUMNS[table];
  const metadata = withoutDecimalAnnotations(file.metadata, columns);
  let groupStart = 0;
  for (const group of file.metadata.row_groups) {
    const groupRows = Number(group.num_rows);
    let rows: unknown[][] = [];
    await parquetRead({
      file: file.buffer,
      metadata,
      // Archives are zstd since the Arrow writer (older ones snappy, which hyparquet reads itself).
      compressors,
      rowStart: groupStart,
      rowEnd: groupStart + groupRows,
      parsers: EXACT_PARSERS,
      onComplete: (result: unknown[][]) => {
        rows = result;
      },
    });
    groupStart += groupRows;
    yield rows.map((row) => columns.map((column, i) => exactText(row[i], column)));
  }
}

/** Timestamps as their bigint microseconds, JSON as its text: nothing goes through a double or a Date. */
const EXACT_PARSERS = {
  timestampFromMicroseconds: (micros: bigint) => micros,
  jsonFromBytes: (bytes: Uint8Array) => bytes && new TextDecoder().decode(bytes),
};

/** A copy of the footer whose decimal columns are plain FIXED_LEN_BYTE_ARRAY, so hyparquet returns their raw bytes. */
function withoutDecimalAnnotations(metadata: FileMetaData, columns: readonly ArchiveColumn[]): FileMetaData {
  const decimals = new Set(columns.filter((column) => column.kind === 'decimal').map((column) => column.name));
  const schema = metadata.schema.map((element, i) =>
    i > 0 && decimals.has(element.name) ? { ...element, converted_type: undefined, logical_type: undefined } : element,
  );
  return { ...metadata, schema };
}

function exactText(value: unknown, column: ArchiveColumn): ArchiveValue {
  if (value === null || value === undefined) return null;
  return column.kind === 'decimal' ? decimalText(value as Uint8Array) : String(value);
}

const SCALE = BigInt(ARCHIVE_DECIMAL.scale);
const TEN_TO_SCALE = 10n ** SCALE;

/** A big-endian two's-complement unscaled DECIMAL(38,18) as exact decimal text, without trailing fraction zeros. */
export function decimalText(bytes: Uint8Array): string {
  let unscaled = 0n;
  for (const byte of bytes) unscaled = (unscaled << 8n) | BigInt(byte);
  if (bytes.length > 0 && (bytes[0] as number) >= 0x80) unscaled -= 1n << BigInt(bytes.length * 8);
  const negative = unscaled < 0n;
  const magnitude = negative ? -unscaled : unscaled;
  const whole = (magnitude / TEN_TO_SCALE).toString();
  const fraction = (magnitude % TEN_TO_SCALE).toString().padStart(ARCHIVE_DECIMAL.scale, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** Microseconds since 1970-01-01 UTC as timestamptz input text (ISO 8601, six fraction digits, UTC). */
export function timestampText(micros: bigint): string {
  const millis = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const extra = micros - millis * 1000n;
  const iso = new Date(Number(millis)).toISOString();
  return `${iso.slice(0, -1)}${extra.toString().padStart(3, '0')}Z`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
