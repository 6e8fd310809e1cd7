import pg from 'pg';
import { TIME_SERIES_TABLES, type TimeSeriesTable } from '../../functions/shared/tables';
import { fingerprint } from './database';

/** One INSERT per time-series table: `$1` the instants (timestamptz[]), `$2` the symbol. */
export const INSERT_ROWS_SQL: Record<TimeSeriesTable, string> = {
  tickers: 'INSERT INTO tickers (exchange_id, symbol, ts, last_price) SELECT 1, $2, t, 100 FROM unnest($1::timestamptz[]) t',
  orderbooks: 'INSERT INTO orderbooks (exchange_id, symbol, ts, spread_bps) SELECT 2, $2, t, 1.5 FROM unnest($1::timestamptz[]) t',
  trades: 'INSERT INTO trades (exchange_id, symbol, ts, price, size) SELECT 3, $2, t, 100, 1 FROM unnest($1::timestamptz[]) t',
  funding_rates: 'INSERT INTO funding_rates (exchange_id, symbol, ts, rate) SELECT 4, $2, t, 0.0001 FROM unnest($1::timestamptz[]) t',
};

/** Inserts one row per instant into every time-series table. */
export async function insertRows(client: pg.ClientBase, instants: Date[], symbol = 'BTC-PERP'): Promise<void> {
  const values = instants.map((instant) => instant.toISOString());
  for (const table of TIME_SERIES_TABLES) await client.query(INSERT_ROWS_SQL[table], [values, symbol]);
}

/**
 * A scenario's rows: `rowsPerDay` rows in every time-series table on each of `days` UTC days from
 * `from` (a YYYY-MM-DD day, or an instant whose UTC day counts), as `symbol`. The one way tests
 * seed days of data.
 */
export interface DaysOfRows {
  from: Date | string;
  days: number;
  rowsPerDay: number;
  symbol?: string;
}

export async function seedDays(client: pg.ClientBase, scenario: DaysOfRows): Promise<void> {
  const first = typeof scenario.from === 'string' ? new Date(`${scenario.from}T00:00:00Z`) : scenario.from;
  await insertRows(client, instantsOverDays(first, scenario.days, scenario.rowsPerDay), scenario.symbol);
}

/** `perDay` instants spread over each of `days` UTC days starting at `firstDay` (00:00 UTC). */
export function instantsOverDays(firstDay: Date, days: number, perDay: number): Date[] {
  const start = Date.UTC(firstDay.getUTCFullYear(), firstDay.getUTCMonth(), firstDay.getUTCDate());
  const step = 86_400_000 / perDay;
  return Array.from({ length: days * perDay }, (_, i) => new Date(start + Math.floor(i / perDay) * 86_400_000 + (i % perDay) * step));
}

/** Count and checksum of every time-series table (through the parent, so partitions and default together). */
export async function dataFingerprint(url: string): Promise<Record<TimeSeriesTable, { rows: number; checksum: string }>> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    const entries = [];
    for (const table of TIME_SERIES_TABLES) entries.push([table, await fingerprint(client, table)] as const);
    return Object.fromEntries(entries) as Record<TimeSeriesTable, { rows: number; checksum: string }>;
  } finally {
    await client.end();
  }
}
