import type pg from 'pg';
import { fillUnknownEstimates, type RelationEstimate, ROW_ESTIMATE_SQL } from '../../shared/catalog';
import type { TableName } from '../../shared/tables';

/** One leaf relation of a table (a partition, or a plain table itself) with its sizes and row estimate. */
export interface LeafRow extends RelationEstimate {
  table_name: TableName;
  table_bytes: string;
  index_bytes: string;
  total_bytes: string;
  /** Sizes and estimate read from the catalog (see LEAF_SIZES_SQL); false: from its files. */
  settled: boolean;
  /** Always known here: readLeafSizes counts a leaf the catalog has no estimate for. */
  estimate: string | number;
}

/**
 * A leaf is settled when nothing changed it since it was last analyzed (a sealed day: see the
 * vacuum operation, or autovacuum's analyze of a closed day). ANALYZE and VACUUM set the page
 * counts of the table and of each of its indexes in pg_class, so for a settled leaf these are
 * its sizes. Statistics reset by a crash or pg_stat_reset lose the last analyze's time: the leaf
 * is then measured from its files again. SQL over the relation's oid (`oid`, an expression).
 */
export const settledSql = (oid: string) => `pg_stat_get_mod_since_analyze(${oid}) = 0
  AND coalesce(pg_stat_get_last_analyze_time(${oid}), pg_stat_get_last_autoanalyze_time(${oid})) IS NOT NULL`;

/** settledSql of the leaf `c` (pg_class) in LEAF_SIZES_SQL. */
const SETTLED_SQL = settledSql('c.oid');

/**
 * The TOAST table and its index, by page counts, while nothing was ever stored out of line
 * (ANALYZE does not count TOAST pages, VACUUM does); else from their files.
 */
const TOAST_BYTES_SQL = `CASE
  WHEN c.reltoastrelid = 0 THEN 0
  WHEN pg_stat_get_tuples_inserted(c.reltoastrelid) = 0 THEN (coalesce(toast.relpages, 0) + coalesce(toast_index.pages, 0)) * k.block_size
  ELSE pg_total_relation_size(c.reltoastrelid)
END`;

/** Index pages per table, from the catalog: one pass over pg_index for all leaves. */
const INDEX_PAGES_SQL = `SELECT x.indrelid, sum(i.relpages) AS pages FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid GROUP BY x.indrelid`;

/**
 * Every leaf relation of the tables `$1`, with table, index and heap bytes and a row estimate.
 * Cost: catalog rows per leaf (and one pass over pg_class and pg_index), plus, for a leaf that is
 * not settled (today's, tomorrow's, the DEFAULT partition, a day still written to), the size
 * functions, which open the relation and stat each file of it and its indexes (about 0.2 ms a
 * leaf at 200+ partitions a table). So it grows with the partitions that are still changing, not
 * with all of them, and never with rows. Settled sizes leave out the free-space and visibility
 * maps (a few pages a partition).
 */
export const LEAF_SIZES_SQL = `WITH leaf AS MATERIALIZED (
       SELECT t.name AS table_name, l.relid
         FROM unnest($1::text[]) AS t(name)
        CROSS JOIN LATERAL (
              SELECT relid FROM pg_partition_tree(t.name::regclass) WHERE isleaf
              UNION -- a plain table is its own only leaf (pg_partition_tree lists nothing for it)
              SELECT oid FROM pg_class WHERE oid = t.name::regclass AND relkind = 'r'
             ) l
     )
SELECT leaf.table_name, c.relname AS name,
       size.table_bytes, size.index_bytes, size.table_bytes + size.index_bytes AS total_bytes,
       size.heap_bytes, size.estimate, k.settled
  FROM leaf
  JOIN pg_class c ON c.oid = leaf.relid
  LEFT JOIN (${INDEX_PAGES_SQL}) own_index ON own_index.indrelid = c.oid
  LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
  LEFT JOIN (${INDEX_PAGES_SQL}) toast_index ON toast_index.indrelid = c.reltoastrelid
 CROSS JOIN LATERAL (SELECT ${SETTLED_SQL} AS settled, current_setting('block_size')::bigint AS block_size) k
 -- Volatile functions keep this subquery from being flattened, and CASE calls them only for a
 -- leaf that is not settled.
 CROSS JOIN LATERAL (
       SELECT CASE WHEN k.settled THEN c.relpages * k.block_size + ${TOAST_BYTES_SQL} ELSE pg_table_size(c.oid) END AS table_bytes,
              CASE WHEN k.settled THEN coalesce(own_index.pages, 0) * k.block_size ELSE pg_indexes_size(c.oid) END AS index_bytes,
              CASE WHEN k.settled THEN c.relpages * k.block_size ELSE pg_relation_size(c.oid) END AS heap_bytes,
              CASE WHEN k.settled THEN greatest(c.reltuples, 0)::bigint ELSE ${ROW_ESTIMATE_SQL} END AS estimate
      ) size`;

/**
 * The leaves of `tables` with their sizes and row estimates (see LEAF_SIZES_SQL for the cost); a
 * leaf the catalog has no estimate for is counted (fillUnknownEstimates).
 */
export async function readLeafSizes(client: pg.ClientBase, tables: readonly TableName[]): Promise<LeafRow[]> {
  const { rows } = await client.query<Omit<LeafRow, 'estimate'> & Pick<RelationEstimate, 'estimate'>>(LEAF_SIZES_SQL, [tables]);
  return (await fillUnknownEstimates(client, rows)) as LeafRow[];
}
