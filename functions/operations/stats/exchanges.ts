import type pg from 'pg';
import { quoteIdent } from '../../shared/db/identifiers';
import type { TimeSeriesTable } from '../../shared/tables';
import type { ExchangeActivity } from './last-hour';

/**
 * An exchange whose newest row in a table is older than this, while another exchange's newest
 * row there is not, is reported stalled: the venue (or its feed) stopped, not the ingester.
 */
export const EXCHANGE_STALL_SECONDS = 900;

/** One exchange in one time-series table. */
export interface ExchangeTableFreshness {
  /** Newest row not in the future; null when the exchange has no row in the table. */
  latest_ts: string | null;
  data_age_seconds: number | null;
  /**
   * Rows of the last hour: counted up to LAST_HOUR_SAMPLE_ROWS (last-hour.ts), above it the rate
   * of the newest of them over the hour (see rows_last_hour_exact).
   */
  rows_last_hour: number;
  rows_last_hour_exact: boolean;
  /** Older than EXCHANGE_STALL_SECONDS while another exchange is fresh in the same table. */
  stalled: boolean;
}

/** Per exchange name, per time-series table. */
export type ExchangeFreshness = Record<string, Record<TimeSeriesTable, ExchangeTableFreshness>>;

/** A row of the exchanges table. */
export interface Exchange {
  id: number;
  name: string;
}

/** The exchanges, in id order (the order reports list them). */
export async function listExchanges(client: pg.ClientBase): Promise<Exchange[]> {
  const { rows } = await client.query<Exchange>('SELECT id, name FROM exchanges ORDER BY id');
  return rows;
}

/** How far back the first newest-row probe looks: today's and yesterday's partitions (and the DEFAULT while either is missing). */
export const RECENT_WINDOW_MS = 86_400_000;

/**
 * The newest row not after $1 of each exchange in $ids, through the (exchange_id, ts DESC)
 * index. `recent` looks only at ts in ($2 = now - RECENT_WINDOW_MS, now]: the planner keeps the
 * two day partitions of that window (and the DEFAULT partition only while one of them is
 * missing), so it costs exchanges x 2-3 index descents. The full probe (ts <= now) goes through every partition up to now: with a
 * DEFAULT partition PostgreSQL cannot read the partitions in order, so it is a MergeAppend that
 * descends every partition's index, and plans over all of them: exchanges x partitions. Stats
 * runs it only for an exchange with no row in the recent window (stalled for a day, or absent
 * from the table).
 */
export function newestRowSql(table: TimeSeriesTable, window: 'recent' | 'all'): string {
  const rel = quoteIdent(table);
  // -infinity is no instant a row can be newest at (pg hands it over as a number, not a Date).
  const range = window === 'recent' ? 't.ts > $2 AND t.ts <= $1' : `t.ts > '-infinity' AND t.ts <= $1`;
  const ids = window === 'recent' ? '$3' : '$2';
  return `SELECT e.id,
       (SELECT t.ts FROM ${rel} t WHERE t.exchange_id = e.id AND ${range} ORDER BY t.ts DESC LIMIT 1) AS latest_ts
  FROM exchanges e WHERE e.id = ANY (${ids}::int[])`;
}

/** The parameters of newestRowSql(table, window) at `now` for exchanges `ids`. */
export function newestRowParams(window: 'recent' | 'all', now: Date, ids: number[]): unknown[] {
  return window === 'recent' ? [now, new Date(now.getTime() - RECENT_WINDOW_MS), ids] : [now, ids];
}

/**
 * Newest row not in the future of every exchange in one table, given those already known (from
 * the last hour's rows). The rest go through the recent window, and only those with no row
 * there through the full probe (see newestRowSql). Normal case: nothing or exchanges x ~3
 * descents; an exchange stalled for over a day costs the full probe each run.
 */
export async function newestRows(
  client: pg.ClientBase,
  table: TimeSeriesTable,
  now: Date,
  exchanges: Exchange[],
  known: Map<number, Date>,
): Promise<Map<number, Date | null>> {
  const newest = new Map<number, Date | null>(known);
  for (const window of ['recent', 'all'] as const) {
    const missing = exchanges.filter((e) => !newest.get(e.id)).map((e) => e.id);
    if (missing.length === 0) break;
    const { rows } = await client.query<{ id: number; latest_ts: Date | null }>(
      newestRowSql(table, window),
      newestRowParams(window, now, missing),
    );
    for (const row of rows) newest.set(row.id, row.latest_ts);
  }
  return newest;
}

/**
 * One table's entry per exchange: age of its newest row and whether it has stalled while
 * another exchange is fresh there.
 */
export function tableFreshness(
  now: Date,
  exchanges: Exchange[],
  newest: Map<number, Date | null>,
  lastHour: Map<number, Pick<ExchangeActivity, 'rows_last_hour' | 'rows_last_hour_exact'>>,
): Map<string, ExchangeTableFreshness> {
  const ageOf = (ts: Date | null | undefined) => (ts ? Math.max(0, Math.round((now.getTime() - ts.getTime()) / 1000)) : null);
  const anyFresh = exchanges.some((e) => {
    const age = ageOf(newest.get(e.id));
    return age !== null && age <= EXCHANGE_STALL_SECONDS;
  });
  return new Map(
    exchanges.map((e) => {
      const ts = newest.get(e.id) ?? null;
      const age = ageOf(ts);
      const entry: ExchangeTableFreshness = {
        latest_ts: ts?.toISOString() ?? null,
        data_age_seconds: age,
        rows_last_hour: lastHour.get(e.id)?.rows_last_hour ?? 0,
        rows_last_hour_exact: lastHour.get(e.id)?.rows_last_hour_exact ?? true,
        stalled: anyFresh && age !== null && age > EXCHANGE_STALL_SECONDS,
      };
      return [e.name, entry];
    }),
  );
}
