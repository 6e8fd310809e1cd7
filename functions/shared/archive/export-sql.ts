import type pg from 'pg';
import { quoteIdent } from '../db/identifiers';
import { ARCHIVE_DECIMAL, type ArchiveColumn } from './layout';
import { checksumText, storedChecksumText } from './values';

/**
 * Each column as exact text, as the export reads it: PostgreSQL's own text of JSONB and
 * integers, numerics without trailing fraction zeros (never a double), and timestamps as whole microseconds since the epoch. The
 * microseconds are built from whole seconds and the microseconds field: `extract(epoch ...)` is
 * a double on PostgreSQL 12 and 13, which could round the last digit.
 */
export function exactTextExpression(column: ArchiveColumn): string {
  const name = quoteIdent(column.name);
  if (column.kind === 'decimal') {
    // Without trailing fraction zeros: DECIMAL(38,18) keeps the number, not how it was written
    // ('1.50' comes back as 1.5), so the checksum of a restored day equals the archived one.
    // rtrim, not trim_scale, which PostgreSQL 12 lacks; NUMERIC text has no exponent.
    const text = `${name}::text`;
    return `(CASE WHEN ${text} LIKE '%.%' THEN rtrim(rtrim(${text}, '0'), '.') ELSE ${text} END)`;
  }
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
  const rel = quoteIdent(relation);
  return `SELECT count(*) AS rows,
       coalesce(sum(${rowShare(columns)}), 0)::text AS checksum_sum${misfitList}
  FROM ${rel}`;
}

/**
 * A relation's row count and archive checksum (checksumText), by partitionCheckSql on the
 * server. Cost: one sequential scan, md5 of every row's text (parallel where the plan allows).
 */
export async function checkPartitionRows(
  client: pg.ClientBase,
  relation: string,
  columns: readonly ArchiveColumn[],
): Promise<{ rows: number; checksum: string; row: Record<string, string | null> }> {
  const { rows } = await client.query<Record<string, string | null>>(partitionCheckSql(relation, columns));
  const row = rows[0] ?? {};
  return { rows: Number(row.rows ?? 0), checksum: checksumText(row.checksum_sum ?? '0'), row };
}

/** One row's share of the checksum: the first 60 bits of the md5 of its text (rowText), as a bigint. */
function rowShare(columns: readonly ArchiveColumn[]): string {
  return md5Share(rowText(columns));
}

/** The first 60 bits of the md5 of a text expression, as a bigint. */
function md5Share(text: string): string {
  return `('x' || substr(md5(${text}), 1, 15))::bit(60)::bigint`;
}

/**
 * A table's row count and stored-rows checksum: the sum of the first 60 bits of the md5 of each
 * row's `ROW(<columns>)::text`, what record-digest.ts computes in JS from the values a load sent.
 * Only the columns' own output functions run (no extract, no trimming, one text per value): on a
 * day of trades about a seventh of what partitionCheckSql costs.
 */
export function storedRowsCheckSql(relation: string, columns: readonly ArchiveColumn[]): string {
  const row = `ROW(${columns.map((column) => quoteIdent(column.name)).join(', ')})::text`;
  return `SELECT count(*) AS rows, coalesce(sum(${md5Share(row)}), 0)::text AS checksum_sum FROM ${quoteIdent(relation)}`;
}

/**
 * A table's row count and stored-rows checksum (storedRowsCheckSql), read in a transaction of its
 * own with the output forms record-digest.ts expects (TimeZone UTC, DateStyle ISO). Cost: one
 * sequential scan (parallel where the plan allows), each value's text and one md5 per row.
 */
export async function checkStoredRows(
  client: pg.ClientBase,
  relation: string,
  columns: readonly ArchiveColumn[],
): Promise<{ rows: number; checksum: string }> {
  await client.query(`BEGIN READ ONLY; ${EXPORT_SESSION_SQL}`);
  try {
    const { rows } = await client.query<{ rows: string; checksum_sum: string }>(storedRowsCheckSql(relation, columns));
    await client.query('COMMIT');
    return { rows: Number(rows[0]?.rows ?? 0), checksum: storedChecksumText(rows[0]?.checksum_sum ?? '0') };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/**
 * The export's one scan: the columns in layout order, as PostgreSQL's own text. The export's
 * transaction sets TimeZone UTC and DateStyle ISO first (EXPORT_SESSION_SQL), so timestamps
 * read `2026-12-03 12:34:56.123456+00`; the reader (arrow-columns.ts) turns each value into its
 * exact text for the checksum, so the server spends nothing beyond COPY itself.
 */
export function exportCopySql(relation: string, columns: readonly ArchiveColumn[]): string {
  const names = columns.map((column) => column.name);
  return `COPY (SELECT ${names.map(quoteIdent).join(', ')} FROM ${quoteIdent(relation)}) TO STDOUT`;
}

/** What the export's transaction sets before exportCopySql: the text forms arrow-columns.ts reads. */
export const EXPORT_SESSION_SQL = "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'";
