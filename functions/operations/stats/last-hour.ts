import type pg from 'pg';
import { quoteIdent } from '../../shared/db/identifiers';
import type { TimeSeriesTable } from '../../shared/tables';

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
  /** False: rows_last_hour is the rate of its newest rows over the hour (see exchangeLastHourSql). */
  rows_last_hour_exact: boolean;
  latest_ts: Date;
}

/**
 * A table's last hour, per symbol and per exchange; only those with rows in it are listed.
 * `symbols` is null unless asked for (see lastHourActivity).
 */
export interface LastHour {
  symbols: SymbolActivity[] | null;
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

/**
 * Rows of the last hour per exchange read at most, in each time-series table: above it,
 * rows_last_hour is estimated from them. Bounds a stats run's reads at 7 exchanges x 4 tables x
 * this, whatever the ingest rate.
 */
export const LAST_HOUR_SAMPLE_ROWS = 1000;

/**
 * The newest rows of the last hour of each exchange in one table, at most LAST_HOUR_SAMPLE_ROWS
 * + 1 of them ($1 = now, $2 = now - 1 hour, $3 = that limit), through the (exchange_id, ts DESC)
 * index of the one or two day partitions overlapping the hour (pruned at plan time, as in
 * lastHourSql). Cost: exchanges x at most $3 index entries and their heap rows, whatever the
 * ingest rate, the table's size or its number of symbols.
 */
export function exchangeLastHourSql(table: TimeSeriesTable): string {
  return `SELECT e.id AS exchange_id, count(*)::int AS rows, min(n.ts) AS oldest_ts, max(n.ts) AS latest_ts
  FROM exchanges e
 CROSS JOIN LATERAL (
       SELECT t.ts FROM ${quoteIdent(table)} t
        WHERE t.exchange_id = e.id AND t.ts > $2 AND t.ts <= $1
        ORDER BY t.ts DESC LIMIT $3
      ) n
 GROUP BY e.id`;
}

/**
 * The rows of an hour, from its newest `rows` (all there are when at most LAST_HOUR_SAMPLE_ROWS,
 * else the newest LAST_HOUR_SAMPLE_ROWS + 1, the oldest of them at `oldest`): exact, or the
 * rate over (oldest, now] for the whole hour. Rows that stopped coming lower the rate, as they
 * should: the window reaches up to now.
 */
export function hourlyRows(rows: number, oldest: Date, now: Date): { rows: number; exact: boolean } {
  if (rows <= LAST_HOUR_SAMPLE_ROWS) return { rows, exact: true };
  const span = Math.max(1, now.getTime() - oldest.getTime());
  return { rows: Math.max(rows, Math.round((rows * LAST_HOUR_MS) / span)), exact: false };
}

/** Each exchange's rows of the last hour in one table, exact up to LAST_HOUR_SAMPLE_ROWS (see exchangeLastHourSql). */
export async function exchangeLastHour(client: pg.ClientBase, table: TimeSeriesTable, now: Date): Promise<LastHour> {
  const { rows } = await client.query<{ exchange_id: number; rows: number; oldest_ts: Date; latest_ts: Date }>(exchangeLastHourSql(table), [
    ...lastHourParams(now),
    LAST_HOUR_SAMPLE_ROWS + 1,
  ]);
  const exchanges = new Map<number, ExchangeActivity>();
  for (const row of rows) {
    const hour = hourlyRows(row.rows, row.oldest_ts, now);
    exchanges.set(Number(row.exchange_id), { rows_last_hour: hour.rows, rows_last_hour_exact: hour.exact, latest_ts: row.latest_ts });
  }
  return { symbols: null, exchanges };
}

/**
 * Rows of the last hour of one table per symbol and per exchange, exactly, and their newest ts
 * (see lastHourSql for the cost: it reads every row of the hour, so stats runs it only when asked
 * for symbols).
 */
export async function lastHourActivity(client: pg.ClientBase, table: TimeSeriesTable, now: Date): Promise<LastHour> {
  const { rows } = await client.query<{
    exchange_id: number | null;
    symbol: string | null;
    per_exchange: boolean;
    rows: string;
    latest_ts: Date;
  }>(lastHourSql(table), lastHourParams(now));
  const symbols: SymbolActivity[] = [];
  const exchanges = new Map<number, ExchangeActivity>();
  for (const row of rows) {
    const activity = { rows_last_hour: Number(row.rows), latest_ts: row.latest_ts };
    if (row.per_exchange) exchanges.set(Number(row.exchange_id), { ...activity, rows_last_hour_exact: true });
    else symbols.push({ symbol: String(row.symbol), ...activity });
  }
  return { symbols, exchanges };
}
