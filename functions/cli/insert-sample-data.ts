import type pg from 'pg';
import { assertSchemaInstalled } from '../shared/catalog';
import { addDays, dayOf, dayStart } from '../shared/days';
import { withTransaction } from '../shared/db/sessions';
import { SQLSTATE, sqlState } from '../shared/db/sql-errors';

/** Markets as an ingester would write them: a few exchanges of the seed, each with the usual perps. */
const EXCHANGES = ['binance', 'bybit', 'hyperliquid'] as const;
const SYMBOLS = [
  { symbol: 'BTC-PERP', base: 'BTC', price: 97_000 },
  { symbol: 'ETH-PERP', base: 'ETH', price: 3_400 },
  { symbol: 'SOL-PERP', base: 'SOL', price: 240 },
] as const;

/** What was inserted, per table. */
export type SampleDataReport = { operation: 'sample-data'; database: string; days: number; rows: Record<string, number> };

/**
 * The rows an ingester writes (markets, then tickers every minute, order books every 5 minutes,
 * trades every 30 seconds, funding every 8 hours, ingest events), with plain INSERTs into the
 * parent tables as the perps_writer role does, from `days - 1` days ago until now. Days without a
 * partition (the past, on a fresh `init`) land in the DEFAULT partitions, as a late ingester's
 * rows would; `partitions` moves them out. Prices wander with a sine, so charts show something.
 */
export async function insertSampleData(client: pg.ClientBase, now: Date, days: number): Promise<SampleDataReport> {
  await assertSchemaInstalled(client);
  const from = dayStart(addDays(dayOf(now), -(days - 1)));
  const rows: Record<string, number> = {};
  const count = async (table: string, sql: string, params: unknown[]) => {
    // The server counts a statement's parameters: only the ones with a price take $6.
    const used = sql.includes('$6') ? params : params.slice(0, 5);
    rows[table] = (rows[table] ?? 0) + ((await client.query(sql, used)).rowCount ?? 0);
  };
  await withTransaction(client, async () => {
    for (const exchange of EXCHANGES) {
      for (const { symbol, base, price } of SYMBOLS) {
        const market = await client.query<{ id: string; exchange_id: number }>(
          `INSERT INTO markets (exchange_id, symbol, base_currency, quote_currency, contract_type, tick_size, lot_size)
           SELECT id, $2, $3, 'USD', 'perpetual', 0.01, 0.001 FROM exchanges WHERE name = $1
           ON CONFLICT (exchange_id, symbol) DO UPDATE SET symbol = EXCLUDED.symbol
           RETURNING id, exchange_id`,
          [exchange, symbol, base],
        );
        const { id, exchange_id } = market.rows[0] ?? { id: '0', exchange_id: 0 };
        const params = [exchange_id, id, symbol, from, now, price];
        await count('tickers', TICKERS_SQL, params);
        await count('orderbooks', ORDERBOOKS_SQL, params);
        await count('trades', TRADES_SQL, params);
        await count('funding_rates', FUNDING_SQL, params);
        await count('ingest_events', INGEST_EVENTS_SQL, params);
      }
    }
  });
  await analyzeIfOwner(client);
  const { rows: db } = await client.query<{ name: string }>('SELECT current_database() AS name');
  return { operation: 'sample-data', database: db[0]?.name ?? '', days, rows };
}

/**
 * Fresh planner statistics, so that `stats` shows the rows at once instead of "~0" until
 * autovacuum analyzes the tables (it never analyzes partitioned parents). Only the owner may
 * ANALYZE: a perps_writer login leaves it to autovacuum and the nightly maintenance.
 */
async function analyzeIfOwner(client: pg.ClientBase): Promise<void> {
  try {
    await client.query('ANALYZE markets, tickers, orderbooks, trades, funding_rates, ingest_events');
  } catch (error) {
    if (sqlState(error) !== SQLSTATE.insufficientPrivilege) throw error;
  }
}

/**
 * Each: $1 exchange id, $2 market id, $3 symbol, $4 first instant, $5 now, $6 a typical price,
 * which wanders by 2% with a sine of the time.
 */
const TICKERS_SQL = `INSERT INTO tickers (exchange_id, market_id, symbol, ts, last_price, mark_price, best_bid, best_ask, volume_24h)
  SELECT $1, $2, $3, t, p, p, p * 0.9999, p * 1.0001, 1e6
  FROM generate_series($4::timestamptz, $5::timestamptz, interval '1 minute') AS t, LATERAL (SELECT $6 * (1 + 0.02 * sin(extract(epoch FROM t) / 5000.0)) AS p) AS price`;
const ORDERBOOKS_SQL = `INSERT INTO orderbooks (exchange_id, market_id, symbol, ts, bids_notional, asks_notional, spread_bps)
  SELECT $1, $2, $3, t, 2e6, 2.1e6, 1.5 FROM generate_series($4::timestamptz, $5::timestamptz, interval '5 minutes') AS t`;
const TRADES_SQL = `INSERT INTO trades (exchange_id, market_id, symbol, ts, trade_id, price, size, side)
  SELECT $1, $2, $3, t, md5($3 || t::text), $6 * (1 + 0.02 * sin(extract(epoch FROM t) / 5000.0)), 0.5, CASE WHEN extract(second FROM t) < 30 THEN 'buy' ELSE 'sell' END
  FROM generate_series($4::timestamptz, $5::timestamptz, interval '30 seconds') AS t`;
const FUNDING_SQL = `INSERT INTO funding_rates (exchange_id, market_id, symbol, ts, rate, next_rate)
  SELECT $1, $2, $3, t, 0.0001, 0.0001 FROM generate_series($4::timestamptz, $5::timestamptz, interval '8 hours') AS t`;
const INGEST_EVENTS_SQL = `INSERT INTO ingest_events (exchange_id, market_id, symbol, event_type, status, message, ts)
  SELECT $1, $2, $3, 'reconnect', 'ok', 'websocket reconnected', t FROM generate_series($4::timestamptz, $5::timestamptz, interval '6 hours') AS t`;
