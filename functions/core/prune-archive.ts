import type pg from 'pg';
import { readFooter } from './archive/footer';
import type { ArchiveStore } from './archive/layout';
import { readLedgerEntry } from './archive/ledger';
import { errorMessage } from './context';
import { addDays, dayOf, dayStart } from './days';
import { quoteIdent } from './db/identifiers';
import type { TimeSeriesTable } from './tables';

/** A day partition prune would drop: which table, which relation, its bounds. */
export interface DropCandidate {
  table: string;
  relation: string;
  /** ISO instants of the partition's bounds (from null: MINVALUE). */
  from: string | null;
  to: string;
}

/**
 * The outcome of an archive check: why the partition must be kept, or, verified, the newest row
 * id it held when counted (null: no row), which prune probes again right before the drop.
 */
export type ArchiveCheck = { keep: string } | { newestId: string | null };

/**
 * Why `candidate` must be kept, or its newest row id when its archive is verified. With
 * archiving configured, a day partition is dropped only when: the archive ledger has its row;
 * the row names the configured store; the object there has the ledger's size and its footer the
 * ledger's row count (a missing, truncated or overwritten object keeps it); and the partition
 * still holds exactly the ledger's rows (rows that came late, after the archive, keep it until
 * the next archive run archives the day again).
 *
 * Cost per partition: a ledger lookup by primary key, a HEAD and one or two ranged reads of the
 * object's footer, whatever its size, and one exact count of the partition: a scan of one day's
 * rows under ACCESS SHARE, which inserts do not wait for. Prune drops a handful of days a run, so
 * this grows with a day's rows, not with the table.
 */
export async function checkArchive(client: pg.ClientBase, store: ArchiveStore, candidate: DropCandidate): Promise<ArchiveCheck> {
  const { table, relation, from, to } = candidate;
  const day = from === null ? null : dayOf(new Date(from));
  const isDay =
    day !== null && Date.parse(from as string) === dayStart(day).getTime() && Date.parse(to) === dayStart(addDays(day, 1)).getTime();
  if (!isDay) return { keep: `not a day partition (${from ?? 'MINVALUE'} to ${to}): only archived days are dropped` };
  const ledger = await readLedgerEntry(client, table as TimeSeriesTable, day);
  if (!ledger) return { keep: `not archived: the archive ledger has no row for ${table} ${day} (run archive first)` };
  if (ledger.location !== store.location) {
    return { keep: `archived to ${ledger.location}, not to the configured ${store.location}: cannot verify the object` };
  }
  const where = `${store.location}/${ledger.object_key}`;
  let footer: { bytes: number; rows: number };
  try {
    footer = await readFooter(store, ledger.object_key);
  } catch (error) {
    return { keep: `the archived object cannot be read (${errorMessage(error)}); archive the day again` };
  }
  if (footer.bytes !== ledger.bytes || footer.rows !== ledger.rows) {
    return {
      keep: `${where} holds ${footer.bytes} bytes and ${footer.rows} rows, the ledger recorded ${ledger.bytes} bytes and ${ledger.rows} rows; archive the day again`,
    };
  }
  const { rows, newestId } = await countPartitionRows(client, relation);
  if (rows !== ledger.rows) {
    return {
      keep: `${relation} holds ${rows} rows, the archive ${ledger.rows}: rows changed after it was archived; the next archive run archives the day again`,
    };
  }
  return { newestId };
}

/** The rows and the newest id, in one scan, so both describe the same snapshot. */
async function countPartitionRows(client: pg.ClientBase, relation: string): Promise<{ rows: number; newestId: string | null }> {
  const { rows } = await client.query<{ n: string; newest: string | null }>(
    `SELECT count(*) AS n, max(id)::text AS newest FROM ${quoteIdent(relation)}`,
  );
  return { rows: Number(rows[0]?.n ?? 0), newestId: rows[0]?.newest ?? null };
}
