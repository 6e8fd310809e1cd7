import type pg from 'pg';
import { assertSchemaInstalled, EXACT_COUNT_MAX_BYTES, listPartitions, rowCountOf, runwayDays } from '../../shared/catalog';
import type { OperationContext } from '../../shared/context';
import { dayOf, describeDay } from '../../shared/days';
import { quoteIdent } from '../../shared/db/identifiers';
import { withClient } from '../../shared/db/sessions';
import { countTablesOutOfSight } from '../../shared/rows-out-of-sight';
import { ALL_TABLES, isTimeSeriesTable, type TableName, TIME_SERIES_TABLES, type TimeSeriesTable } from '../../shared/tables';
import { type Exchange, type ExchangeFreshness, type ExchangeTableFreshness, listExchanges, newestRows, tableFreshness } from './exchanges';
import { type TableGrowth, tableGrowth } from './growth';
import { type JobsStats, readJobs } from './jobs';
import { exchangeLastHour, lastHourActivity } from './last-hour';
import { type LeafRow, readLeafSizes } from './leaf-sizes';

export interface TableStats {
  row_count: number;
  /** False when row_count is a catalog estimate (large tables). */
  row_count_exact: boolean;
  table_bytes: number;
  index_bytes: number;
  total_bytes: number;
}

export interface TimeSeriesTableStats extends TableStats, TableGrowth {
  /** Day partitions, the default partition not counted. */
  partitions: number;
  oldest_partition: string | null;
  newest_partition: string | null;
  /** Consecutive days from today (UTC) that have a partition. */
  runway_days: number;
  default_rows: number;
  /**
   * Rows out of sight of queries on the table: left in backlog and unattached day tables by a
   * partitions run that stopped or failed half-way (see rows-out-of-sight.ts). Not in row_count;
   * the next partitions run brings them back. 0 normally.
   */
  backlog_rows: number;
  /** The tables holding them (`<table>_backlog_N`, `<table>_YYYY_MM_DD` not attached yet); empty normally. */
  backlog_tables: string[];
  /** Rows of the last hour, over the exchanges (see ExchangeTableFreshness.rows_last_hour). */
  rows_last_hour: number;
  /** False when an exchange's count is estimated from its newest rows. */
  rows_last_hour_exact: boolean;
  /** Newest row not in the future. */
  latest_ts: string | null;
  data_age_seconds: number | null;
}

export interface RecentIngest {
  table: TimeSeriesTable;
  symbol: string;
  rows_last_hour: number;
  latest_ts: string | null;
}

/** The stable JSON shape of `stats --format json` (documented in docs/design.md, Stats). */
export interface StatsReport {
  operation: 'stats';
  fetched_at: string;
  database: {
    name: string;
    size_bytes: number;
    /**
     * Sum of the time-series tables' bytes_per_day (a table without a closed day counts 0); null
     * while no table has a closed day partition to measure it by.
     */
    growth_bytes_per_day: number | null;
    /** The storage the database may fill (`storageLimitBytes`, DB_STORAGE_LIMIT_BYTES); null: not known. */
    storage_limit_bytes: number | null;
    /** Whole days until size_bytes reaches the limit at growth_bytes_per_day; null without a limit or growth. */
    storage_runway_days: number | null;
  };
  tables: Record<TableName, TableStats | TimeSeriesTableStats>;
  /** Per symbol, exact: only when the run asked for symbols (`symbols`), else null. */
  recent_ingest: RecentIngest[] | null;
  /** Per exchange and time-series table: newest row, age, last hour's rows, stalled. */
  exchanges: ExchangeFreshness;
  /**
   * Per operation (registry order): its last run, last success and whether it is overdue, from
   * the history of runs (job_runs). Null: the database has no history yet (migrate to 0008).
   */
  jobs: JobsStats | null;
}

export interface StatsInput {
  /** The storage the database may fill, for storage_runway_days (DB_STORAGE_LIMIT_BYTES). */
  storageLimitBytes?: number;
  /**
   * Adds recent_ingest, the last hour's rows per symbol, counted exactly: it reads every row of
   * the hour, so its cost follows the ingest rate.
   */
  symbols?: boolean;
}

/**
 * Sizes, row counts, partition runway, freshness and last-hour activity, without scanning any
 * table: catalog sizes and estimates per partition, partition bounds, one read of the last
 * hour's rows and index probes per exchange. Cost grows with partitions (catalog rows only),
 * exchanges and the last hour's rows, not with total rows or the number of symbols.
 */
export async function collectStats(ctx: OperationContext, input: StatsInput = {}): Promise<StatsReport> {
  const now = ctx.now();
  return withClient(ctx.pool, async (client) => {
    await assertSchemaInstalled(client);
    const db = await client.query<{ name: string; size: string }>(
      'SELECT current_database() AS name, pg_database_size(current_database()) AS size',
    );
    const leaves = await readLeafSizes(client, ALL_TABLES);
    // Normally one catalog query: no backlog and no unfinished day anywhere.
    const waiting = await countTablesOutOfSight(client, TIME_SERIES_TABLES);
    const exchanges = await listExchanges(client);
    const tables = {} as StatsReport['tables'];
    const recent: RecentIngest[] | null = input.symbols ? [] : null;
    const freshness: ExchangeFreshness = {};
    for (const table of ALL_TABLES) {
      const tableLeaves = leaves.filter((row) => row.table_name === table);
      const base = await tableTotals(client, table, tableLeaves);
      if (!isTimeSeriesTable(table)) {
        tables[table] = base;
        continue;
      }
      const hidden = waiting.find((entry) => entry.table === table);
      const series = await timeSeriesStats(client, { table, now, symbols: input.symbols ?? false }, tableLeaves, exchanges);
      tables[table] = { ...base, ...series.stats, backlog_rows: hidden?.rows ?? 0, backlog_tables: hidden?.relations ?? [] };
      recent?.push(...series.recent);
      for (const [name, entry] of series.exchanges) {
        freshness[name] ??= {} as ExchangeFreshness[string];
        freshness[name][table] = entry;
      }
    }
    const jobs = await readJobs(client, now);
    const size = Number(db.rows[0]?.size ?? 0);
    const measured = Object.values(tables).flatMap((t) => (t as Partial<TimeSeriesTableStats>).bytes_per_day ?? []);
    const growth = measured.length > 0 ? measured.reduce((sum, bytes) => sum + bytes, 0) : null;
    return {
      operation: 'stats',
      fetched_at: now.toISOString(),
      database: {
        name: db.rows[0]?.name ?? '',
        size_bytes: size,
        growth_bytes_per_day: growth,
        storage_limit_bytes: input.storageLimitBytes ?? null,
        storage_runway_days: storageRunwayDays(size, growth ?? 0, input.storageLimitBytes),
      },
      tables,
      recent_ingest: recent,
      exchanges: freshness,
      jobs,
    };
  });
}

/** Sums over a table's leaf relations; counts exactly only when the whole heap is small. */
async function tableTotals(client: pg.ClientBase, table: TableName, leaves: LeafRow[]): Promise<TableStats> {
  const sum = (key: 'table_bytes' | 'index_bytes' | 'total_bytes' | 'heap_bytes' | 'estimate') =>
    leaves.reduce((acc, row) => acc + Number(row[key]), 0);
  const exact = sum('heap_bytes') <= EXACT_COUNT_MAX_BYTES;
  let rowCount = sum('estimate');
  if (exact) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(table)}`);
    rowCount = Number(rows[0]?.n ?? 0);
  }
  return {
    row_count: rowCount,
    row_count_exact: exact,
    table_bytes: sum('table_bytes'),
    index_bytes: sum('index_bytes'),
    total_bytes: sum('total_bytes'),
  };
}

type SeriesFields = Omit<TimeSeriesTableStats, keyof TableStats | 'backlog_rows' | 'backlog_tables'>;

async function timeSeriesStats(
  client: pg.ClientBase,
  { table, now, symbols }: { table: TimeSeriesTable; now: Date; symbols: boolean },
  leaves: LeafRow[],
  exchanges: Exchange[],
): Promise<{ stats: SeriesFields; recent: RecentIngest[]; exchanges: Map<string, ExchangeTableFreshness> }> {
  const partitions = await listPartitions(client, table);
  const days = partitions.filter((p) => !p.isDefault && p.from !== null);
  const defaultPartition = partitions.find((p) => p.isDefault);
  // Its size and estimate came with the leaf query: no second catalog read.
  const defaultLeaf = leaves.find((leaf) => leaf.name === defaultPartition?.name);

  const lastHour = symbols ? await lastHourActivity(client, table, now) : await exchangeLastHour(client, table, now);
  const known = new Map([...lastHour.exchanges].map(([id, activity]) => [id, activity.latest_ts]));
  const newest = await newestRows(client, table, now, exchanges, known);
  // Every row belongs to an exchange (a foreign key): the newest of theirs is the table's.
  const latest = [...newest.values()].reduce<Date | null>((max, ts) => (ts && (!max || ts > max) ? ts : max), null);
  const recent = (lastHour.symbols ?? []).map((a) => ({
    table,
    symbol: a.symbol,
    rows_last_hour: a.rows_last_hour,
    latest_ts: a.latest_ts.toISOString(),
  }));

  const first = days[0]?.from;
  const last = days.at(-1)?.from;
  return {
    stats: {
      partitions: days.length,
      oldest_partition: first ? describeDay(first) : null,
      newest_partition: last ? describeDay(last) : null,
      runway_days: runwayDays(partitions, dayOf(now)),
      default_rows: defaultLeaf ? (await rowCountOf(client, defaultLeaf)).rows : 0,
      rows_last_hour: [...lastHour.exchanges.values()].reduce((sum, e) => sum + e.rows_last_hour, 0),
      rows_last_hour_exact: [...lastHour.exchanges.values()].every((e) => e.rows_last_hour_exact),
      latest_ts: latest?.toISOString() ?? null,
      data_age_seconds: latest ? Math.max(0, Math.round((now.getTime() - latest.getTime()) / 1000)) : null,
      ...tableGrowth(partitions, leaves, now),
    },
    recent,
    exchanges: tableFreshness(now, exchanges, newest, lastHour.exchanges),
  };
}

/** Whole days left before `size` reaches `limit` at `growth` a day: 0 once at or past it; null when either is unknown or nothing grows. */
export function storageRunwayDays(size: number, growth: number, limit: number | undefined): number | null {
  if (limit === undefined || growth <= 0) return null;
  return Math.max(0, Math.floor((limit - size) / growth));
}
