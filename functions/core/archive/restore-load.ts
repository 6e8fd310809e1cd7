import type pg from 'pg';
import { quoteIdent } from '../db/identifiers';
import type { TimeSeriesTable } from '../tables';
import { ARCHIVE_COLUMNS, POSTGRES_TYPES } from './layout';
import { type ArchiveValue, timestampText } from './read-rows';

/**
 * Inserts archived rows (exact text, the layout's column order) into `relation` in
 * statements of at most `batchSize` rows: one array parameter per column, unnested and cast by
 * PostgreSQL, so every value arrives exactly as text and is parsed by the column's own type.
 * Meant for a standalone day table nobody else uses: it takes no lock anyone waits for. Returns
 * the rows inserted.
 */
export async function insertArchivedRows(
  client: pg.ClientBase,
  relation: string,
  table: TimeSeriesTable,
  rows: ArchiveValue[][],
  batchSize: number,
): Promise<number> {
  const columns = ARCHIVE_COLUMNS[table];
  const list = columns.map((column) => quoteIdent(column.name)).join(', ');
  const arrays = columns.map((column, i) => `$${i + 1}::${POSTGRES_TYPES[column.kind]}[]`).join(', ');
  const sql = `INSERT INTO ${quoteIdent(relation)} (${list}) SELECT * FROM unnest(${arrays})`;
  let inserted = 0;
  for (let start = 0; start < rows.length; start += batchSize) {
    const batch = rows.slice(start, start + batchSize);
    const params = columns.map((column, i) =>
      batch.map((row) => {
        const value = row[i] ?? null;
        return value !== null && column.kind === 'timestamp' ? timestampText(BigInt(value)) : value;
      }),
    );
    inserted += (await client.query(sql, params)).rowCount ?? 0;
  }
  return inserted;
}
