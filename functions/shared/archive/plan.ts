import type pg from 'pg';
import { listPartitions } from '../catalog';
import { addDays, dayOf, dayStart } from '../days';
import type { TimeSeriesTable } from '../tables';
import { archiveObjectKey } from './layout';
import { type LedgerEntry, readLedger } from './ledger';

/** A closed day partition the run looked at, and why it is (or is not) to be archived. */
export interface ArchiveCandidate {
  table: TimeSeriesTable;
  day: string;
  relation: string;
  /** Its insert+update+delete counter now (pg_stat_user_tables), null when the statistics have no row for it. */
  modifications: number | null;
  /**
   * `not archived`; `changed since archived` (late rows); `archived elsewhere` (the ledger's
   * location or key is not where this run writes: another directory, bucket or prefix);
   * `archived without a content hash` (a ledger row from before migration 0006, which prune
   * cannot prove); `pruned since archived` (prune dropped the day after archiving it, and the
   * day's partition now holds only rows that came later: it must not be written over the object,
   * the day's only copy, so archive refuses it until `restore` brings the archived rows back); or
   * null: archived here, proven, and unchanged.
   */
  reason:
    | 'not archived'
    | 'changed since archived'
    | 'archived elsewhere'
    | 'archived without a content hash'
    | 'pruned since archived'
    | null;
}

const DAY_MS = 86_400_000;

/**
 * The day partitions of `tables` whose day is at least `afterDays` before today (UTC), or just
 * `onlyDay`, each with whether it needs archiving: never archived, or changed since (its
 * modification counter moved away from the one recorded: late rows, or a statistics reset,
 * after which it is archived again once, the safe side). Cost: a catalog read per table, one
 * read of pg_stat_user_tables and of the ledger; nothing scans rows.
 */
export async function planArchive(
  client: pg.ClientBase,
  options: {
    tables: readonly TimeSeriesTable[];
    now: Date;
    afterDays: number;
    onlyDay?: string;
    /** Where this run writes: the store's location and the key prefix. */
    location: string;
    prefix: string;
  },
): Promise<ArchiveCandidate[]> {
  const today = dayOf(options.now);
  const lastDay = options.onlyDay ?? addDays(today, -options.afterDays);
  const days: { table: TimeSeriesTable; day: string; relation: string }[] = [];
  for (const table of options.tables) {
    for (const p of await listPartitions(client, table)) {
      if (p.isDefault || !p.from || !p.to || p.to.getTime() - p.from.getTime() !== DAY_MS) continue;
      const day = dayOf(p.from);
      if (dayStart(day).getTime() !== p.from.getTime()) continue;
      if (options.onlyDay ? day === options.onlyDay : day <= lastDay) days.push({ table, day, relation: p.name });
    }
  }
  const counters = await modificationCounters(
    client,
    days.map((d) => d.relation),
  );
  const ledger = new Map((await readLedger(client)).map((row) => [`${row.table_name}/${row.day}`, row]));
  return days.map((d) => {
    const modifications = counters.get(d.relation) ?? null;
    const here = { location: options.location, key: archiveObjectKey(options.prefix, d.table, d.day) };
    return { ...d, modifications, reason: reasonToArchive(ledger.get(`${d.table}/${d.day}`), modifications, here) };
  });
}

function reasonToArchive(
  entry: LedgerEntry | undefined,
  modifications: number | null,
  here: { location: string; key: string },
): ArchiveCandidate['reason'] {
  if (!entry) return 'not archived';
  if (entry.dropped_at !== null) return 'pruned since archived';
  // Prune only trusts an object in the configured store: a day archived elsewhere is archived here too.
  if (entry.location !== here.location || entry.object_key !== here.key) return 'archived elsewhere';
  if (entry.object_sha256 === null) return 'archived without a content hash';
  if (modifications === null || entry.source_modifications === null || modifications !== entry.source_modifications) {
    return 'changed since archived';
  }
  return null;
}

/**
 * Each relation's n_tup_ins + n_tup_upd + n_tup_del. Read before the export's snapshot: a row
 * committed in between is then in the archive and counted later (archived again, harmless);
 * read after, it could be counted but missing from the archive. The counters are flushed by
 * each writer within about a second and reset by a crash or pg_stat_reset: both err towards
 * archiving again. Cost: one read of the statistics for these relations.
 */
export async function modificationCounters(client: pg.ClientBase, relations: string[]): Promise<Map<string, number>> {
  if (relations.length === 0) return new Map();
  // PostgreSQL 12-14 cache the statistics for the transaction: read fresh ones.
  await client.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await client.query<{ relname: string; modifications: string }>(
    `SELECT relname, (n_tup_ins + n_tup_upd + n_tup_del)::text AS modifications
       FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY ($1)`,
    [relations],
  );
  return new Map(rows.map((row) => [row.relname, Number(row.modifications)]));
}
