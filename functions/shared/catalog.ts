import type pg from 'pg';
import { addDays, dayStart, isCalendarDay } from './days';
import { quoteIdent } from './db/identifiers';
import { MigrationError } from './errors';
import { ALL_TABLES } from './tables';

/** Throws a MigrationError naming the missing tables when the schema has not been migrated. */
export async function assertSchemaInstalled(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT t.name FROM unnest($1::text[]) AS t(name) WHERE to_regclass(quote_ident(t.name)) IS NULL`,
    [ALL_TABLES],
  );
  if (rows.length > 0) {
    throw new MigrationError(
      `database ${await currentDatabase(client)} is missing the table${rows.length > 1 ? 's' : ''} ${rows.map((r) => r.name).join(', ')}: the perps-stats schema is not installed; run \`init\` (or \`migrate\`) first (\`npm run local -- init\`, or invoke the migrate function)`,
    );
  }
}

/** One partition of a partitioned table, with its real bounds read from the catalog. */
export interface PartitionInfo {
  name: string;
  isDefault: boolean;
  /** Inclusive lower bound; null for the default partition or MINVALUE. */
  from: Date | null;
  /** Exclusive upper bound; null for the default partition or MAXVALUE. */
  to: Date | null;
}

/**
 * Partitions of `table` with bounds parsed by PostgreSQL itself and returned as epoch seconds,
 * so neither the session's TimeZone nor its DateStyle can change what we read.
 * Cost: one catalog lookup and one bound deparsed per partition (tens of microseconds each). The
 * bound's literals are cut out with split_part, not a regular expression: with 200+ partitions a
 * table, regexp_match took most of the query's time.
 */
export async function listPartitions(client: pg.ClientBase, table: string): Promise<PartitionInfo[]> {
  const { rows } = await client.query<{
    name: string;
    is_default: boolean;
    from_epoch: string | null;
    to_epoch: string | null;
    bound: string;
  }>(
    // `FOR VALUES FROM ('<from>') TO ('<to>')` (MINVALUE and MAXVALUE unquoted), or `DEFAULT`. A
    // bound holds constants only, so it deparses without its relation (relid 0: nothing opened).
    `SELECT name, bound, is_default,
            extract(epoch FROM nullif(split_part(split_part(bound, ' TO ', 1), '''', 2), '')::timestamptz) AS from_epoch,
            extract(epoch FROM nullif(split_part(split_part(bound, ' TO ', 2), '''', 2), '')::timestamptz) AS to_epoch
       FROM (SELECT c.relname AS name, b.bound, b.bound = 'DEFAULT' AS is_default
               FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid
              CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, 0) AS bound) b
              WHERE i.inhparent = to_regclass($1)) p
      ORDER BY from_epoch NULLS LAST, name`,
    [table],
  );
  return rows.map((row) => {
    const from = row.from_epoch === null ? null : new Date(Number(row.from_epoch) * 1000);
    const to = row.to_epoch === null ? null : new Date(Number(row.to_epoch) * 1000);
    // A bound we could not read would look like MINVALUE/MAXVALUE and cover every day: refuse.
    if (!row.is_default && ((from === null && !row.bound.includes('MINVALUE')) || (to === null && !row.bound.includes('MAXVALUE')))) {
      throw new Error(`cannot read the bounds of partition ${row.name} (${row.bound})`);
    }
    return { name: row.name, isDefault: row.is_default, from, to };
  });
}

/** Whether some non-default partition covers the whole UTC day. */
export function isDayCovered(partitions: PartitionInfo[], day: string): boolean {
  const start = dayStart(day).getTime();
  const end = dayStart(addDays(day, 1)).getTime();
  return partitions.some((p) => !p.isDefault && (p.from === null || p.from.getTime() <= start) && (p.to === null || p.to.getTime() >= end));
}

/** Consecutive days from `today` (inclusive) that have a partition. */
export function runwayDays(partitions: PartitionInfo[], today: string, limit = 3660): number {
  let days = 0;
  while (days < limit && isDayCovered(partitions, addDays(today, days))) days++;
  return days;
}

/**
 * Comment on a standalone day table while this tool builds it. Only tables carrying it are
 * adopted after an interruption: a table an operator detached or copied on purpose is left alone.
 */
export const IN_PROGRESS_COMMENT = 'perps-stats-db: day partition being built; attached by the next partitions run';

/**
 * Comment on a former default partition that a run swapped out (see takeDefaultBacklog): its rows
 * wait there, out of sight of the parent, until they are copied into day partitions. Only tables
 * whose comment starts with it are copied out and dropped; the lines after it record the copy's
 * progress (see backlog-copy.ts).
 */
export const BACKLOG_COMMENT =
  'perps-stats-db: rows taken out of the default partition; moved into day partitions by the next partitions run';

/**
 * Relations in the current schema named like a day partition of `table` (`<table>_YYYY_MM_DD`)
 * that are not partitions, by day: `ours` for a table this tool started building (see
 * IN_PROGRESS_COMMENT), `foreign` for anything else holding the name (a table an operator
 * detached, a view...). One catalog query for all days.
 */
export async function listDayTables(client: pg.ClientBase, table: string): Promise<Map<string, 'ours' | 'foreign'>> {
  const { rows } = await client.query<{ relname: string; ours: boolean }>(
    `SELECT c.relname, c.relkind = 'r' AND coalesce(obj_description(c.oid, 'pg_class') = $2, false) AS ours
       FROM pg_class c
      WHERE c.relnamespace = current_schema()::regnamespace AND NOT c.relispartition
        AND c.relname ~ ('^' || $1 || '_[0-9]{4}_[0-9]{2}_[0-9]{2}$')`,
    [table, IN_PROGRESS_COMMENT],
  );
  const tables = new Map<string, 'ours' | 'foreign'>();
  for (const row of rows) {
    const day = row.relname.slice(table.length + 1).replaceAll('_', '-');
    if (isCalendarDay(day)) tables.set(day, row.ours ? 'ours' : 'foreign');
  }
  return tables;
}

/** Backlog tables of `table` (`<table>_backlog_N` carrying BACKLOG_COMMENT), oldest first. */
export async function listBacklogTables(client: pg.ClientBase, table: string): Promise<string[]> {
  const { rows } = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND NOT c.relispartition
        AND c.relname ~ ('^' || $1 || '_backlog_[0-9]+$') AND split_part(obj_description(c.oid, 'pg_class'), E'\n', 1) = $2
      ORDER BY length(c.relname), c.relname`,
    [table, BACKLOG_COMMENT],
  );
  return rows.map((row) => row.relname);
}

/** A foreign key declared on a partitioned table, as ALTER TABLE ... ADD CONSTRAINT would take it. */
export interface ForeignKey {
  name: string;
  /** `FOREIGN KEY (exchange_id) REFERENCES exchanges(id)`, from pg_get_constraintdef. */
  definition: string;
  /** The referenced table, quoted and schema-qualified where needed. */
  referenced: string;
}

/** The foreign keys `table` declares itself (not those it inherits). */
export async function listForeignKeys(client: pg.ClientBase, table: string): Promise<ForeignKey[]> {
  const { rows } = await client.query<ForeignKey>(
    `SELECT conname AS name, pg_get_constraintdef(oid) AS definition, confrelid::regclass::text AS referenced
       FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'f' AND conparentid = 0 ORDER BY conname`,
    [quoteIdent(table)],
  );
  return rows;
}

/** Foreign keys of a relation by name, and whether each is validated. */
export async function foreignKeyStates(client: pg.ClientBase, relation: string): Promise<Map<string, { validated: boolean }>> {
  const { rows } = await client.query<{ name: string; validated: boolean }>(
    `SELECT conname AS name, convalidated AS validated FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'f'`,
    [quoteIdent(relation)],
  );
  return new Map(rows.map((row) => [row.name, { validated: row.validated }]));
}

/** The columns of a table's primary key, in key order (empty: none). */
export async function primaryKeyColumns(client: pg.ClientBase, table: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT a.attname AS name
       FROM pg_constraint c, unnest(c.conkey) WITH ORDINALITY AS k(attnum, n), pg_attribute a
      WHERE c.conrelid = to_regclass($1) AND c.contype = 'p' AND a.attrelid = c.conrelid AND a.attnum = k.attnum
      ORDER BY k.n`,
    [quoteIdent(table)],
  );
  return rows.map((row) => row.name);
}

/** An index as ATTACH matches it: what it indexes and how, and the constraint it backs. */
export interface IndexShape {
  /** ` USING btree (symbol, ts DESC)` and whatever follows (INCLUDE, WITH, WHERE), from pg_get_indexdef. */
  shape: string;
  unique: boolean;
  /** `PRIMARY KEY (id, ts)` when it backs a primary key or unique constraint, from pg_get_constraintdef. */
  constraint: string | null;
}

/** The shapes of a relation's indexes (a partitioned parent's: those every partition must have). */
export async function listIndexShapes(client: pg.ClientBase, relation: string): Promise<IndexShape[]> {
  const { rows } = await client.query<IndexShape>(
    `SELECT substring(pg_get_indexdef(i.indexrelid) FROM ' USING .*$') AS shape, i.indisunique AS unique,
            pg_get_constraintdef(c.oid) AS constraint
       FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u')
      WHERE i.indrelid = to_regclass($1) ORDER BY i.indexrelid`,
    [quoteIdent(relation)],
  );
  return rows;
}

/** Indexes of a relation: name, CREATE INDEX statement, and whether it is a partition of a parent's index. */
export async function listIndexes(
  client: pg.ClientBase,
  relation: string,
): Promise<{ name: string; definition: string; inherited: boolean }[]> {
  const { rows } = await client.query<{ name: string; definition: string; inherited: boolean }>(
    `SELECT (SELECT relname FROM pg_class WHERE oid = i.indexrelid) AS name, pg_get_indexdef(i.indexrelid) AS definition,
            EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid) AS inherited
       FROM pg_index i WHERE i.indrelid = to_regclass($1) ORDER BY i.indexrelid`,
    [quoteIdent(relation)],
  );
  return rows;
}

/** Column names of a table in attribute order, for explicit column lists. */
export async function listColumns(client: pg.ClientBase, table: string): Promise<string[]> {
  const { rows } = await client.query<{ attname: string }>(
    `SELECT attname FROM pg_attribute
      WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
      ORDER BY attnum`,
    [quoteIdent(table)],
  );
  return rows.map((row) => row.attname);
}

/** Row count of one relation and whether it is exact. */
export interface RowCount {
  rows: number;
  exact: boolean;
}

/**
 * Heap size under which a relation is counted exactly with count(*): about 10k rows of our
 * widest table. Above it, a catalog estimate; so the cost of counting is bounded per relation.
 */
export const EXACT_COUNT_MAX_BYTES = 2 * 1024 * 1024;

/**
 * Row estimate the way the planner makes it: reltuples scaled to the relation's current
 * number of pages; before the first ANALYZE/VACUUM, the statistics system's live tuples. NULL
 * when neither says anything about a relation that has pages: never analyzed and no live tuples
 * counted, as for every partition of the embedded database (PGlite keeps no such statistics and
 * runs no autovacuum), or on a server after a statistics reset. Reading 0 there showed partitions
 * full of rows as empty, so the callers count such a relation instead (fillUnknownEstimates).
 * Returns an SQL expression over `c` (pg_class). The statistics are read by function, not by
 * joining pg_stat_user_tables: that view aggregates over every relation's indexes.
 */
export const ROW_ESTIMATE_SQL = `(CASE
   WHEN c.relpages > 0 AND c.reltuples >= 0
     THEN c.reltuples / c.relpages * (pg_relation_size(c.oid) / current_setting('block_size')::numeric)
   WHEN pg_stat_get_live_tuples(c.oid) > 0 OR pg_relation_size(c.oid) = 0 THEN pg_stat_get_live_tuples(c.oid)
 END)::bigint`;

/** A relation's heap size and catalog row estimate, as read by readEstimates or the stats leaf query. */
export interface RelationEstimate {
  name: string;
  heap_bytes: string | number;
  /** Null: the catalog has no estimate (see ROW_ESTIMATE_SQL) until fillUnknownEstimates counts it. */
  estimate: string | number | null;
  /** Set by fillUnknownEstimates when `estimate` is a count, not the catalog's guess. */
  counted?: boolean;
}

/**
 * Counts the relations the catalog has no estimate for (see ROW_ESTIMATE_SQL), in place. Cost:
 * one count(*) per such relation, which on a server with statistics is none (or a partition
 * never analyzed since a statistics reset); on the embedded database, every never-analyzed
 * partition with rows, which are small there.
 */
export async function fillUnknownEstimates<T extends RelationEstimate>(client: pg.ClientBase, relations: T[]): Promise<T[]> {
  for (const relation of relations) {
    if (relation.estimate !== null) continue;
    relation.estimate = await countExact(client, relation.name);
    relation.counted = true;
  }
  return relations;
}

/** A relation's exact row count: one scan of it (ACCESS SHARE, which inserts do not wait for). */
export async function countExact(client: pg.ClientBase, relation: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(relation)}`);
  return Number(rows[0]?.n ?? 0);
}

/** Heap sizes and row estimates of many relations in one catalog query. */
async function readEstimates(client: pg.ClientBase, relations: string[]): Promise<RelationEstimate[]> {
  if (relations.length === 0) return [];
  const { rows } = await client.query<RelationEstimate>(
    `SELECT r.name, pg_relation_size(c.oid) AS heap_bytes, ${ROW_ESTIMATE_SQL} AS estimate
       FROM unnest($1::text[]) AS r(name)
       JOIN pg_class c ON c.oid = to_regclass(quote_ident(r.name))`,
    [relations],
  );
  return rows;
}

/**
 * The catalog's row estimate and heap size of each relation, nothing counted: a progress line's
 * total. The estimate is absent where the catalog knows nothing (see ROW_ESTIMATE_SQL).
 */
export async function catalogEstimates(client: pg.ClientBase, relations: string[]): Promise<Map<string, { rows?: number; bytes: number }>> {
  const estimates = await readEstimates(client, relations);
  return new Map(
    estimates.map((r) => [r.name, { bytes: Number(r.heap_bytes), ...(r.estimate === null ? {} : { rows: Number(r.estimate) }) }]),
  );
}

/**
 * Counts one relation exactly when its heap is small or the catalog has no estimate of it (or
 * takes the count fillUnknownEstimates made), else takes its catalog estimate.
 */
export async function rowCountOf(client: pg.ClientBase, relation: RelationEstimate): Promise<RowCount> {
  if (relation.counted) return { rows: Number(relation.estimate), exact: true };
  if (Number(relation.heap_bytes) <= EXACT_COUNT_MAX_BYTES || relation.estimate === null) {
    return { rows: await countExact(client, relation.name), exact: true };
  }
  return { rows: Math.max(0, Number(relation.estimate)), exact: false };
}

/**
 * Row counts of leaf relations (never a partitioned parent, whose own heap is empty): one
 * catalog query for all, then an exact count(*) of each small one. A relation that does not
 * exist counts as 0, exactly.
 */
export async function countRows(client: pg.ClientBase, relations: string[]): Promise<Map<string, RowCount>> {
  const counts = new Map<string, RowCount>(relations.map((name) => [name, { rows: 0, exact: true }]));
  for (const relation of await readEstimates(client, relations)) counts.set(relation.name, await rowCountOf(client, relation));
  return counts;
}

/** The name of the database the client is connected to. */
export async function currentDatabase(client: pg.ClientBase | pg.Pool): Promise<string> {
  const { rows } = await client.query<{ name: string }>('SELECT current_database() AS name');
  return rows[0]?.name ?? '';
}
