import type pg from 'pg';
import { quoteIdent } from './db/identifiers';
import type { TimeSeriesTable } from './tables';

/** The window `rows_last_hour` counts: ts in (now - 1 hour, now]. */
export const LAST_HOUR_MS = 3_600_000;

/** One symbol's rows of the last hour in one table, summed over exchanges. */
export interface SymbolActivity {
  symbol: string;
  rows_last_hour: number;
  /** Its newest row not in the future: within the last hour, since it has rows there. */
  latest_ts: Date;
}

/** One exchange's rows of the last hour in one table. */
export interface ExchangeActivity {
  rows_last_hour: number;
  latest_ts: Date;
}

/** A table's last hour, per symbol and per exchange; only those with rows in it are listed. */
export interface LastHour {
  symbols: SymbolActivity[];
  /** By exchange id. */
  exchanges: Map<number, ExchangeActivity>;
}

/**
 * The last hour's rows of one table, counted per symbol and per exchange in one pass
 * ($1 = now, $2 = now - 1 hour). The ts range is plan-time constant, so the planner keeps only
 * the relations that can hold it (the one or two day partitions overlapping the hour, and the
 * DEFAULT partition only while part of the hour has no day partition), and the lateral join reads them through the (exchange_id, ts DESC)
 * index, one range per exchange and relation (the aggregate inside keeps PostgreSQL from
 * flattening it into a hash join over a scan of the whole day partition). Cost: exchanges x those relations index descents
 * plus the last hour's rows (index entry and heap row each), so it follows the ingest rate, never
 * the table's size, its partitions or its number of symbols. GROUPING SETS gives both groupings
 * from that one read.
 */
export function lastHourSql(table: TimeSeriesTable): string {
  const rel = quoteIdent(table);
  return `SELECT e.id AS exchange_id, r.symbol, GROUPING(r.symbol) = 1 AS per_exchange, sum(r.rows) AS rows, max(r.latest_ts) AS latest_ts
  FROM exchanges e
 CROSS JOIN LATERAL (
       SELECT t.symbol, count(*) AS rows, max(t.ts) AS latest_ts FROM ${rel} t
        WHERE t.exchange_id = e.id AND t.ts > $2 AND t.ts <= $1
        GROUP BY t.symbol
      ) r
 GROUP BY GROUPING SETS ((e.id), (r.symbol))
 ORDER BY per_exchange, r.symbol, e.id`;
}

/** The parameters of lastHourSql at `now`. */
export function lastHourParams(now: Date): [Date, Date] {
  return [now, new Date(now.getTime() - LAST_HOUR_MS)];
}

/** Rows of the last hour of one table per symbol and per exchange, and their newest ts (see lastHourSql for the cost). */
export async function lastHourActivity(client: pg.ClientBase, table: TimeSeriesTable, now: Date): Promise<LastHour> {
  const { rows } = await client.query<{
    exchange_id: number | null;
    symbol: string | null;
    per_exchange: boolean;
    rows: string;
    latest_ts: Date;
  }>(lastHourSql(table), lastHourParams(now));
  const result: LastHour = { symbols: [], exchanges: new Map() };
  for (const row of rows) {
    const activity = { rows_last_hour: Number(row.rows), latest_ts: row.latest_ts };
    if (row.per_exchange) result.exchanges.set(Number(row.exchange_id), activity);
    else result.symbols.push({ symbol: String(row.symbol), ...activity });
  }
  return result;
}
