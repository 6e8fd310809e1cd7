import { readFileSync } from 'node:fs';
import { parquetMetadata } from 'hyparquet';
import { ARCHIVE_COLUMNS } from '../../functions/shared/archive/layout';
import type { TimeSeriesTable } from '../../functions/shared/tables';
import type { ArchivedRow } from './parquet-reader';
import { decimalText, type RowFilter, unscaledOf } from './parquet-readers';

/** What a Parquet file's footer says of its pages: their types, codecs, and whether `symbol` has a dictionary. */
export function pageFormat(path: string): { pageTypes: string[]; codecs: string[]; symbolDictionary: boolean } {
  const bytes = readFileSync(path);
  const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  const chunks = metadata.row_groups.flatMap((group) => group.columns.map((column) => column.meta_data));
  const pageTypes = new Set(chunks.flatMap((chunk) => chunk?.encoding_stats?.map((stat) => stat.page_type) ?? []));
  const codecs = new Set(chunks.map((chunk) => chunk?.codec));
  const symbol = chunks.filter((chunk) => chunk?.path_in_schema.join('.') === 'symbol');
  return {
    pageTypes: [...pageTypes].map(String).sort(),
    codecs: [...codecs].map(String).sort(),
    symbolDictionary: symbol.length > 0 && symbol.every((chunk) => chunk?.dictionary_page_offset !== undefined),
  };
}

/**
 * The filters each reader is asked for on `table`: one symbol (dictionary-encoded), and the first
 * NOT NULL-or-not decimal column above its median value (exact decimal comparison).
 */
export function readerFilters(table: TimeSeriesTable, rows: readonly ArchivedRow[]): RowFilter[] {
  const decimal = ARCHIVE_COLUMNS[table].find((column) => column.kind === 'decimal');
  const filters: RowFilter[] = [{ column: 'symbol', equals: 'ETH-PERP' }];
  if (decimal) {
    const values = rows.map((row) => row[decimal.name]).filter((value): value is string => typeof value === 'string');
    const sorted = values.map(unscaledOf).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0n;
    filters.push({ column: decimal.name, above: decimalText(median) });
  }
  return filters;
}
