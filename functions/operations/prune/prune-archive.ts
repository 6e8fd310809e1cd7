import type pg from 'pg';
import { checkPartitionRows } from '../../shared/archive/export-sql';
import { readFooter } from '../../shared/archive/footer';
import { ARCHIVE_COLUMNS } from '../../shared/archive/layout';
import { type LedgerEntry, readLedgerEntry } from '../../shared/archive/ledger';
import { digestObject, OBJECT_DIGEST_NAME } from '../../shared/archive/object-digest';
import type { ArchiveStore } from '../../shared/archive/store';
import { errorMessage } from '../../shared/context';
import { addDays, dayOf, dayStart, partitionName } from '../../shared/days';
import { quoteIdent } from '../../shared/db/identifiers';
import type { TimeSeriesTable } from '../../shared/tables';

/** A day partition prune would drop: which table, which relation, its bounds. */
export interface DropCandidate {
  table: string;
  relation: string;
  /** ISO instants of the partition's bounds (from null: MINVALUE). */
  from: string | null;
  to: string;
}

/**
 * The outcome of an archive check: why the partition must be kept, or, the object proven, the
 * ledger row whose rows the partition must still hold (proveRows) when it is dropped.
 */
export type ArchiveCheck = { keep: string } | { ledger: LedgerEntry & { day: string } };

/**
 * Why `candidate` must be kept, or its ledger row when its archived object is proven. With
 * archiving configured, a day partition is dropped only when: the archive ledger has its row,
 * written by a version that records the object's content hash; the row names the configured
 * store; the object there has the ledger's size, its footer the ledger's row count, and all its
 * bytes the ledger's SHA-256 (a missing, truncated or overwritten object keeps it, however
 * well its footer survived); and the partition holds the ledger's number of rows (a cheap
 * first look: rows that came late keep it without detaching anything). Whether they are the
 * archived rows is proven by proveRows, where no new row can reach the partition (see
 * prune-drops.ts).
 *
 * Cost per partition: a ledger lookup by primary key, a HEAD and one or two ranged reads of the
 * object's footer, one read of the whole object to hash it (S3: a ranged GET per 8 MiB), and an
 * exact count of the partition: a scan of one day's rows under ACCESS SHARE, which inserts do
 * not wait for.
 */
export async function checkArchive(client: pg.ClientBase, store: ArchiveStore, candidate: DropCandidate): Promise<ArchiveCheck> {
  const { table, relation, from, to } = candidate;
  const day = from === null ? null : dayOf(new Date(from));
  const isDay =
    day !== null && Date.parse(from as string) === dayStart(day).getTime() && Date.parse(to) === dayStart(addDays(day, 1)).getTime();
  if (!isDay) return { keep: `not a day partition (${from ?? 'MINVALUE'} to ${to}): only archived days are dropped` };
  // Prune detaches a day before proving it, and what a failed or killed proof leaves detached
  // is attached again by the partitions run, which finds day tables by name.
  if (relation !== partitionName(table, day)) {
    return {
      keep: `${relation} is not named ${partitionName(table, day)}: prune detaches only a day partition the partitions run can attach again`,
    };
  }
  const ledger = await readLedgerEntry(client, table as TimeSeriesTable, day);
  if (!ledger) return { keep: `not archived: the archive ledger has no row for ${table} ${day} (run archive first)` };
  if (ledger.location !== store.location) {
    return {
      keep: `archived to ${ledger.location}, not to the configured ${store.location}: cannot verify the object; run archive, which archives the day here`,
    };
  }
  if (ledger.object_sha256 === null) {
    return {
      keep: `the ledger row of ${table} ${day} was written by an older version, without the object's ${OBJECT_DIGEST_NAME}: its archive cannot be proven; the next archive run archives the day again`,
    };
  }
  const where = `${store.location}/${ledger.object_key}`;
  let footer: { bytes: number; rows: number };
  let sha256: string;
  try {
    footer = await readFooter(store, ledger.object_key);
    sha256 = footer.bytes === ledger.bytes ? await digestObject(store, ledger.object_key, footer.bytes) : '';
  } catch (error) {
    return { keep: `the archived object cannot be read (${errorMessage(error)}); archive the day again` };
  }
  if (footer.bytes !== ledger.bytes || footer.rows !== ledger.rows) {
    return {
      keep: `${where} holds ${footer.bytes} bytes and ${footer.rows} rows, the ledger recorded ${ledger.bytes} bytes and ${ledger.rows} rows; archive the day again`,
    };
  }
  if (sha256 !== ledger.object_sha256) {
    return {
      keep: `${where} changed after it was archived: its ${OBJECT_DIGEST_NAME} is ${sha256}, the ledger recorded ${ledger.object_sha256} (same size and footer); archive the day again`,
    };
  }
  const rows = await countPartitionRows(client, relation);
  if (rows !== ledger.rows) return { keep: changedRows(relation, `holds ${rows} rows, the archive ${ledger.rows}`) };
  return { ledger: { ...ledger, day } };
}

/**
 * Why `relation` must be kept, or undefined when it holds exactly the rows the ledger recorded:
 * the same count and the same checksum, computed by the archive's own one-scan check
 * (partitionCheckSql: the one definition of the row checksum, which the export computes in the
 * process; restore proves its load another way). A late row in and an archived row out keep the count but not the checksum. Cost: one
 * sequential scan of the partition, md5 of every row's text.
 */
export async function proveRows(client: pg.ClientBase, relation: string, ledger: LedgerEntry): Promise<string | undefined> {
  const { rows: count, checksum } = await checkPartitionRows(client, relation, ARCHIVE_COLUMNS[ledger.table_name]);
  if (count === ledger.rows && checksum === ledger.checksum) return undefined;
  return changedRows(relation, `holds ${count} rows with checksum ${checksum}, the archive ${ledger.rows} rows with ${ledger.checksum}`);
}

function changedRows(relation: string, difference: string): string {
  return `${relation} ${difference}: rows changed after it was archived; the next archive run archives the day again`;
}

/**
 * The partition's exact row count: one scan of one day. Not catalog's countExact: the fault
 * tests (prune-archive.test.ts) tell this check from the planning's counts by its SQL text,
 * until fault points are named by step.
 */
async function countPartitionRows(client: pg.ClientBase, relation: string): Promise<number> {
  const { rows } = await client.query<{ rows: string }>(`SELECT count(*) AS rows FROM ${quoteIdent(relation)}`);
  return Number(rows[0]?.rows ?? 0);
}
