import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { TimeSeriesTable } from '../tables';
import { ArrowBatchBuilder } from './arrow-columns';
import { CopyRowSplitter, StreamTotals } from './copy-rows';
import { EXPORT_SESSION_SQL, exportCopySql } from './export-sql';
import { ARCHIVE_COLUMNS } from './layout';

/** A relation's rows and their archive checksum (values.ts's checksumText). */
export interface RowsChecksum {
  rows: number;
  checksum: string;
}

/** Rows decoded per batch while checksumming (the batches are thrown away). */
const BATCH_ROWS = 65_536;

/**
 * The archive checksum of `relation`'s rows, read as the export reads them (one COPY) and
 * computed here (row-digest.ts), the same value partitionCheckSql computes in SQL at several
 * times the cost. `inTransaction`: the caller holds a transaction open (its locks and snapshot
 * are used); otherwise this runs in a READ ONLY transaction of its own. Cost: one sequential
 * scan of the relation, the text of every value, one md5 per row here.
 */
export async function partitionChecksum(
  client: pg.ClientBase,
  relation: string,
  table: TimeSeriesTable,
  { inTransaction }: { inTransaction: boolean },
): Promise<RowsChecksum> {
  if (!inTransaction) await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query(EXPORT_SESSION_SQL);
    const columns = ARCHIVE_COLUMNS[table];
    const copy = client.query(copyTo(exportCopySql(relation, columns)));
    const builder = new ArrowBatchBuilder(columns, BATCH_ROWS);
    const totals = new StreamTotals();
    const splitter = new CopyRowSplitter();
    for await (const chunk of copy as AsyncIterable<Uint8Array>) {
      splitter.push(chunk, (bytes, start, end) => {
        const [high, low] = builder.appendRow(bytes, start, end);
        totals.add(high, low);
        if (builder.full) builder.take();
      });
    }
    splitter.end();
    if (!inTransaction) await client.query('COMMIT');
    return { rows: totals.rows, checksum: totals.checksum() };
  } catch (error) {
    if (!inTransaction) await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
