import { quoteIdent } from '../db/identifiers';
import { ARCHIVE_DECIMAL, type ArchiveColumn } from './layout';

/**
 * Each column as exact text, as the export reads it: PostgreSQL's own text of numerics, JSONB
 * and integers (never a double), and timestamps as whole microseconds since the epoch. The
 * microseconds are built from whole seconds and the microseconds field: `extract(epoch ...)` is
 * a double on PostgreSQL 12 and 13, which could round the last digit.
 */
export function exactTextExpression(column: ArchiveColumn): string {
  const name = quoteIdent(column.name);
  if (column.kind === 'timestamp') {
    return `(extract(epoch FROM date_trunc('second', ${name}))::bigint * 1000000 + (extract(microseconds FROM ${name})::bigint % 1000000))::text`;
  }
  return column.kind === 'text' ? name : `${name}::text`;
}

/**
 * A value DECIMAL(38,18) cannot hold exactly: 20 or more integer digits, a significant 19th
 * fraction digit, NaN or ±Infinity (NaN is above every number in PostgreSQL, Infinity is >= 1e20).
 * Works on PostgreSQL 12 (no trim_scale, no numeric Infinity literal there).
 */
export function decimalMisfit(column: ArchiveColumn): string {
  const name = quoteIdent(column.name);
  const bound = `1e${ARCHIVE_DECIMAL.precision - ARCHIVE_DECIMAL.scale}`;
  return `${name} IS NOT NULL AND (abs(${name}) >= ${bound} OR ${name} <> round(${name}, ${ARCHIVE_DECIMAL.scale}))`;
}

/**
 * One row's text for the checksum: each column's exact text prefixed by its length in bytes
 * (so no value can pass for two), `-` for NULL, joined by commas. rowChecksumText builds the
 * same string in JS from the fetched values.
 */
function rowText(columns: readonly ArchiveColumn[]): string {
  return columns
    .map((column) => `coalesce(octet_length(${exactTextExpression(column)})::text || ':' || ${exactTextExpression(column)}, '-')`)
    .join(` || ',' || `);
}

/**
 * The partition's row count, its checksum (the sum of the first 60 bits of each row's md5: the
 * order of the rows does not matter) and, per NUMERIC column, how many values DECIMAL(38,18)
 * cannot hold with one of them. One sequential scan of the partition.
 */
export function partitionCheckSql(relation: string, columns: readonly ArchiveColumn[]): string {
  const decimals = columns.filter((column) => column.kind === 'decimal');
  const misfitList = decimals
    .flatMap((column, i) => [
      `count(*) FILTER (WHERE ${decimalMisfit(column)}) AS misfit_count_${i}`,
      `min(${quoteIdent(column.name)}) FILTER (WHERE ${decimalMisfit(column)})::text AS misfit_example_${i}`,
    ])
    .map((item) => `,\n       ${item}`)
    .join('');
  const hashedRow = rowText(columns);
  const rel = quoteIdent(relation);
  return `SELECT count(*) AS rows,
       coalesce(sum(('x' || substr(md5(${hashedRow}), 1, 15))::bit(60)::bigint), 0)::text AS checksum_sum${misfitList}
  FROM ${rel}`;
}

/** The cursor's query: every column as exact text, in layout order. */
export function exportSelectSql(relation: string, columns: readonly ArchiveColumn[]): string {
  const selectList = columns.map((column) => `${exactTextExpression(column)} AS ${quoteIdent(column.name)}`).join(', ');
  return `SELECT ${selectList} FROM ${quoteIdent(relation)}`;
}
