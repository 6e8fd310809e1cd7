import type pg from 'pg';
import { quoteIdent } from './db/identifiers';
import { TIME_SERIES_TABLES, type TimeSeriesTable } from './tables';

/**
 * The exchanges migrations/0002_seed_exchanges.sql seeds, in its order: the stack names one
 * alarm per exchange at synth, before any database exists (a unit test holds the two together).
 */
export const SEEDED_EXCHANGES = ['binance', 'bybit', 'kucoin', 'lighter', 'paradex', 'hyperliquid', 'cryptocom'] as const;

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
  rows_last_hour: number;
  /** Older than EXCHANGE_STALL_SECONDS while another exchange is fresh in the same table. */
  stalled: boolean;
}

/** Per exchange name, per time-series table. */
export type ExchangeFreshness = Record<string, Record<TimeSeriesTable, ExchangeTableFreshness>>;

/**
 * The probe of one table: per exchange, one descent of the (exchange_id, ts DESC) index for the
 * newest row and one index range over the last hour, so its cost grows with exchanges,
 * partitions and the last hour's rows, never with the table's rows.
 */
export function exchangeProbeSql(table: TimeSeriesTable): string {
  const rel = quoteIdent(table);
  return `SELECT e.name,
       (SELECT t.ts FROM ${rel} t WHERE t.exchange_id = e.id AND t.ts <= $1 ORDER BY t.ts DESC LIMIT 1) AS latest_ts,
       (SELECT count(*) FROM ${rel} t WHERE t.exchange_id = e.id AND t.ts > $2 AND t.ts <= $1) AS rows_last_hour
  FROM exchanges e ORDER BY e.id`;
}

/** Newest row, age and last hour's rows of every exchange in every time-series table, and which have stalled. */
export async function exchangeFreshness(client: pg.ClientBase, now: Date): Promise<ExchangeFreshness> {
  const report: ExchangeFreshness = {};
  for (const table of TIME_SERIES_TABLES) {
    const { rows } = await client.query<{ name: string; latest_ts: Date | null; rows_last_hour: string }>(exchangeProbeSql(table), [
      now,
      new Date(now.getTime() - 3_600_000),
    ]);
    const ages = rows.map((row) => (row.latest_ts ? Math.max(0, Math.round((now.getTime() - row.latest_ts.getTime()) / 1000)) : null));
    const anyFresh = ages.some((age) => age !== null && age <= EXCHANGE_STALL_SECONDS);
    rows.forEach((row, i) => {
      const age = ages[i] ?? null;
      const exchange = report[row.name] ?? ({} as Record<TimeSeriesTable, ExchangeTableFreshness>);
      report[row.name] = exchange;
      exchange[table] = {
        latest_ts: row.latest_ts?.toISOString() ?? null,
        data_age_seconds: age,
        rows_last_hour: Number(row.rows_last_hour),
        stalled: anyFresh && age !== null && age > EXCHANGE_STALL_SECONDS,
      };
    });
  }
  return report;
}
