import { readFileSync } from 'node:fs';
import { type Data, tableFromIPC } from 'apache-arrow';
import { type FileMetaData, parquetMetadata, parquetQuery, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { ARCHIVE_DECIMAL, type ArchiveColumn } from '../../functions/shared/archive/layout';
import { loadParquetWasm } from '../../functions/shared/archive/parquet-engine';
import { type ArchivedRow, readArchivedFile } from './parquet-reader';
import type { PolarsApi } from './tool-types';
import { requireTestTool } from './tools';

/*
 * Four Parquet readers from four code bases, each asked for every value of an archived file as
 * the same exact text (DECIMAL with its 18 fraction digits, timestamps as microseconds since the
 * epoch, integers as text, text and JSON as they are, NULL as null), ordered by id, optionally
 * filtered on the dictionary-encoded `symbol` or on a decimal column:
 * - DuckDB (C++), the engine of the existing archive tests;
 * - arrow-rs through parquet-wasm, the same Rust code as Spark's and DataFusion's neighbours
 *   (and our writer: it proves the round trip, the others prove portability);
 * - polars (Rust, its own Parquet reader), lazily with predicate pushdown;
 * - hyparquet (JavaScript), with its own filter.
 * Athena (Trino), Spark and Redshift Spectrum cannot run here; see docs/archive.md for why these
 * files suit them (DATA_PAGE v1, zstd, FIXED_LEN_BYTE_ARRAY decimals, TIMESTAMP(MICROS, UTC)).
 */

/** Rows whose `column` equals a text, or whose decimal `column` is above a value (decimal text). */
export type RowFilter = { column: string; equals: string } | { column: string; above: string };

export interface ParquetReader {
  name: string;
  read(path: string, columns: readonly ArchiveColumn[], filter?: RowFilter): Promise<ArchivedRow[]>;
}

const SCALE = BigInt(ARCHIVE_DECIMAL.scale);
const TEN_TO_SCALE = 10n ** SCALE;

/** An unscaled DECIMAL(38,18) as text with its 18 fraction digits, as DuckDB and polars print it. */
export function decimalText(unscaled: bigint): string {
  const negative = unscaled < 0n;
  const magnitude = negative ? -unscaled : unscaled;
  return `${negative ? '-' : ''}${magnitude / TEN_TO_SCALE}.${(magnitude % TEN_TO_SCALE).toString().padStart(ARCHIVE_DECIMAL.scale, '0')}`;
}

/** Decimal text (any number of fraction digits up to 18) as DECIMAL(38,18)'s unscaled value. */
export function unscaledOf(text: string): bigint {
  const [whole = '0', fraction = ''] = text.replace('-', '').split('.');
  const value = BigInt(whole) * TEN_TO_SCALE + BigInt(fraction.padEnd(ARCHIVE_DECIMAL.scale, '0') || '0');
  return text.startsWith('-') ? -value : value;
}

/** Rows in numeric id order (DuckDB's readArchivedFile and postgresRows order by the id's text). */
export function byId(rows: readonly ArchivedRow[]): ArchivedRow[] {
  return [...rows].sort((a, b) => Number(BigInt(a.id ?? 0) - BigInt(b.id ?? 0)));
}

/** Whether an exact-text row passes `filter` (decimals compared exactly, as bigints). */
export function passes(row: ArchivedRow, filter: RowFilter | undefined): boolean {
  if (!filter) return true;
  const value = row[filter.column];
  if (value === null || value === undefined) return false;
  return 'equals' in filter ? value === filter.equals : unscaledOf(value) > unscaledOf(filter.above);
}

const duckdb: ParquetReader = {
  name: 'DuckDB',
  async read(path, _columns, filter) {
    const where = !filter
      ? undefined
      : 'equals' in filter
        ? `"${filter.column}" = '${filter.equals.replaceAll("'", "''")}'`
        : `"${filter.column}" > CAST('${filter.above}' AS DECIMAL(38,18))`;
    return byId((await readArchivedFile(path, 'id', where)).rows);
  },
};

const polars: ParquetReader = {
  name: 'polars',
  async read(path, columns, filter) {
    const pl = requireTestTool<PolarsApi>('nodejs-polars');
    let frame = pl.scanParquet(path);
    if (filter) {
      frame =
        'equals' in filter
          ? frame.filter(pl.col(filter.column).eq(pl.lit(filter.equals)))
          : frame.filter(pl.col(filter.column).gt(pl.lit(filter.above).cast(pl.Decimal(ARCHIVE_DECIMAL.precision, ARCHIVE_DECIMAL.scale))));
    }
    const selected = frame
      .sort('id')
      .select(
        ...columns.map((column) =>
          (column.kind === 'timestamp' ? pl.col(column.name).cast(pl.Int64) : pl.col(column.name)).cast(pl.Utf8).alias(column.name),
        ),
      )
      .collectSync();
    return selected.toRecords() as ArchivedRow[];
  },
};

const arrowRs: ParquetReader = {
  name: 'arrow-rs (parquet-wasm)',
  async read(path, columns, filter) {
    const wasm = await loadParquetWasm();
    const table = tableFromIPC(wasm.readParquet(readFileSync(path)).intoIPCStream());
    const rows: ArchivedRow[] = [];
    for (const batch of table.batches) {
      const children = columns.map((column) => batch.getChild(column.name)?.data[0] as Data);
      for (let i = 0; i < batch.numRows; i++) {
        rows.push(Object.fromEntries(columns.map((column, c) => [column.name, arrowText(column, children[c] as Data, i)])));
      }
    }
    return byId(rows.filter((row) => passes(row, filter)));
  },
};

function arrowText(column: ArchiveColumn, data: Data, row: number): string | null {
  const index = data.offset + row;
  if (data.nullBitmap && data.nullCount > 0 && ((data.nullBitmap[index >> 3] as number) & (1 << (index & 7))) === 0) return null;
  switch (column.kind) {
    case 'decimal': {
      const words = data.values as Uint32Array;
      let value = 0n;
      for (let w = 3; w >= 0; w--) value = (value << 32n) | BigInt(words[index * 4 + w] as number);
      return decimalText(BigInt.asIntN(128, value));
    }
    case 'int64':
    case 'timestamp':
      return String((data.values as BigInt64Array)[index]);
    case 'int32':
      return String((data.values as Int32Array)[index]);
    default: {
      const offsets = data.valueOffsets as Int32Array;
      return new TextDecoder().decode((data.values as Uint8Array).subarray(offsets[index], offsets[index + 1]));
    }
  }
}

const hyparquet: ParquetReader = {
  name: 'hyparquet',
  async read(path, columns, filter) {
    const bytes = readFileSync(path);
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    // Its decimals would come back as doubles: read them as their raw bytes, with the annotation taken off.
    const metadata = withoutDecimalAnnotations(parquetMetadata(file), columns);
    const options = { file, metadata, compressors, parsers: { timestampFromMicroseconds: (micros: bigint) => micros } };
    const records =
      filter && 'equals' in filter
        ? await parquetQuery({ ...options, filter: { [filter.column]: { $eq: filter.equals } } })
        : await parquetReadObjects(options);
    const rows = (records as Record<string, unknown>[]).map((record) =>
      Object.fromEntries(columns.map((column) => [column.name, hyparquetText(column, record[column.name])])),
    );
    return byId(rows.filter((row) => passes(row, filter)));
  },
};

function withoutDecimalAnnotations(metadata: FileMetaData, columns: readonly ArchiveColumn[]): FileMetaData {
  const decimals = new Set(columns.filter((column) => column.kind === 'decimal').map((column) => column.name));
  const schema = metadata.schema.map((element, i) =>
    i > 0 && decimals.has(element.name) ? { ...element, converted_type: undefined, logical_type: undefined } : element,
  );
  return { ...metadata, schema };
}

function hyparquetText(column: ArchiveColumn, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (column.kind === 'decimal') {
    const bytes = value as Uint8Array;
    let unscaled = 0n;
    for (const byte of bytes) unscaled = (unscaled << 8n) | BigInt(byte);
    return decimalText(BigInt.asIntN(bytes.length * 8, unscaled));
  }
  if (column.kind === 'json' && typeof value !== 'string') return JSON.stringify(value);
  return String(value);
}

/** Every reader the tests read archives with. */
export const PARQUET_READERS: readonly ParquetReader[] = [duckdb, arrowRs, polars, hyparquet];
