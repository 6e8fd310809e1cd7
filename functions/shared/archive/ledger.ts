import type pg from 'pg';
import type { TimeSeriesTable } from '../tables';
import type { ArchiveLedgerRow } from './layout';

/** The table of migration 0005. */
export const ARCHIVE_LEDGER_TABLE = 'archive_ledger';

/** A ledger row and the partition's modification counter when it was archived (see migration 0005). */
export interface LedgerEntry extends ArchiveLedgerRow {
  /** pg_stat_user_tables n_tup_ins + n_tup_upd + n_tup_del at the archive; null when unknown. */
  source_modifications: number | null;
  /**
   * SHA-256 (hex) of the object's bytes, read back when it was verified (migration 0006); null
   * for a row an older version wrote: prune keeps such a day and archive archives it again.
   */
  object_sha256: string | null;
  /**
   * When prune dropped the day's partition (migration 0007): the object is then the day's only
   * copy, and archive refuses to write a later partition of the day over it. Null otherwise.
   */
  dropped_at: string | null;
}

const COLUMNS = `table_name, to_char(day, 'YYYY-MM-DD') AS day, location, object_key, rows::float8 AS rows, bytes::float8 AS bytes,
  checksum, source_modifications::float8 AS source_modifications, object_sha256, archived_at, dropped_at`;

type RawEntry = Omit<LedgerEntry, 'archived_at' | 'dropped_at'> & { archived_at: Date; dropped_at: Date | null };

function entryOf(row: RawEntry): LedgerEntry {
  return {
    ...row,
    archived_at: new Date(row.archived_at).toISOString(),
    dropped_at: row.dropped_at && new Date(row.dropped_at).toISOString(),
  };
}

/**
 * The ledger rows of `table` (every table when omitted), by table and day. Cost: one index scan
 * of a table with a row per table and day archived (a few thousand rows after years).
 */
export async function readLedger(client: pg.ClientBase, table?: TimeSeriesTable): Promise<LedgerEntry[]> {
  const { rows } = await client.query<RawEntry>(
    `SELECT ${COLUMNS} FROM ${ARCHIVE_LEDGER_TABLE} WHERE $1::text IS NULL OR table_name = $1 ORDER BY table_name, day`,
    [table ?? null],
  );
  return rows.map(entryOf);
}

/** The ledger row of one table and day, or null. Cost: one primary-key lookup. */
export async function readLedgerEntry(client: pg.ClientBase, table: TimeSeriesTable, day: string): Promise<LedgerEntry | null> {
  const { rows } = await client.query<RawEntry>(`SELECT ${COLUMNS} FROM ${ARCHIVE_LEDGER_TABLE} WHERE table_name = $1 AND day = $2::date`, [
    table,
    day,
  ]);
  const row = rows[0];
  return row ? entryOf(row) : null;
}

/**
 * Records a verified archive (insert, or replace the row of a day archived again). Call it only
 * after the object was verified: a ledger row is what lets prune drop the partition. Cost: one
 * primary-key upsert.
 */
export async function recordArchive(client: pg.ClientBase, entry: Omit<LedgerEntry, 'archived_at' | 'dropped_at'>): Promise<LedgerEntry> {
  const { rows } = await client.query<RawEntry>(
    `INSERT INTO ${ARCHIVE_LEDGER_TABLE} (table_name, day, location, object_key, rows, bytes, checksum, source_modifications, object_sha256, archived_at)
     VALUES ($1, $2::date, $3, $4, $5, $6, $7, $8, $9, now())
     ON CONFLICT (table_name, day) DO UPDATE SET location = excluded.location, object_key = excluded.object_key, rows = excluded.rows,
       bytes = excluded.bytes, checksum = excluded.checksum, source_modifications = excluded.source_modifications,
       object_sha256 = excluded.object_sha256, archived_at = excluded.archived_at, dropped_at = NULL
     RETURNING ${COLUMNS}`,
    [
      entry.table_name,
      entry.day,
      entry.location,
      entry.object_key,
      entry.rows,
      entry.bytes,
      entry.checksum,
      entry.source_modifications,
      entry.object_sha256,
    ],
  );
  const row = rows[0];
  if (!row) throw new Error('the archive ledger upsert returned no row');
  return entryOf(row);
}

/**
 * Marks the day's ledger row as the day's only copy: prune dropped its partition (call it in the
 * transaction of the DROP). Cost: one primary-key update.
 */
export async function markDropped(client: pg.ClientBase, table: TimeSeriesTable, day: string): Promise<void> {
  await client.query(`UPDATE ${ARCHIVE_LEDGER_TABLE} SET dropped_at = now() WHERE table_name = $1 AND day = $2::date`, [table, day]);
}

/**
 * After a restore: the day's rows are in a partition again, a new one whose statistics counters
 * are not the ones recorded, which may hold rows the archive lacks (late rows moved in). Its
 * counter is forgotten, so the next archive run writes the day once more (and prune proves it
 * against that). Cost: one primary-key update.
 */
export async function markRestored(client: pg.ClientBase, table: TimeSeriesTable, day: string): Promise<void> {
  await client.query(
    `UPDATE ${ARCHIVE_LEDGER_TABLE} SET dropped_at = NULL, source_modifications = NULL WHERE table_name = $1 AND day = $2::date`,
    [table, day],
  );
}
