import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { dayBoundLiterals, partitionName } from '../../functions/core/days';
import { quoteIdent } from '../../functions/core/db/identifiers';
import type { TimeSeriesTable } from '../../functions/core/tables';

/** 50 symbols over the 7 seeded exchanges, as markets rows: symbol i trades on exchange 1 + i % 7. */
export const SYMBOLS = Array.from({ length: 50 }, (_, i) => ({
  symbol: `${['BTC', 'ETH', 'SOL', 'XRP', 'DOGE', 'ADA', 'AVAX', 'LINK', 'DOT', 'ARB'][i % 10]}${i >= 10 ? i : ''}-PERP`,
  exchangeId: 1 + (i % 7),
  basePrice: 100 * (1 + ((i * 7919) % 500)),
}));

export async function seedMarkets(url: string): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  await client.query(
    `INSERT INTO markets (exchange_id, symbol, base_currency, quote_currency, contract_type, tick_size, lot_size)
     SELECT e, s, split_part(s, '-', 1), 'USDT', 'perpetual', 0.01, 0.001 FROM unnest($1::int[], $2::text[]) AS m(e, s)
     ON CONFLICT DO NOTHING`,
    [SYMBOLS.map((s) => s.exchangeId), SYMBOLS.map((s) => s.symbol)],
  );
  await client.end();
}

/** Day partitions created directly (bench setup, not measured): the shape `partitions` leaves behind. */
export async function createDayPartitions(url: string, tables: readonly TimeSeriesTable[], days: string[]): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  for (const table of tables) {
    for (const day of days) {
      const { from, to } = dayBoundLiterals(day);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${quoteIdent(partitionName(table, day))} PARTITION OF ${quoteIdent(table)} FOR VALUES FROM ('${from}') TO ('${to}')`,
      );
    }
  }
  await client.end();
}

const COLUMNS: Record<TimeSeriesTable, string[]> = {
  tickers: ['exchange_id', 'symbol', 'ts', 'last_price', 'mark_price', 'index_price', 'best_bid', 'best_ask', 'volume_24h'],
  orderbooks: ['exchange_id', 'symbol', 'ts', 'bids_notional', 'asks_notional', 'spread_bps'],
  trades: ['exchange_id', 'symbol', 'ts', 'trade_id', 'price', 'size', 'side'],
  funding_rates: ['exchange_id', 'symbol', 'ts', 'rate', 'next_rate'],
};

/** One CSV line of plausible values for `table` at `ts`; prices wander around the symbol's base. */
function line(table: TimeSeriesTable, n: number, ts: Date): string {
  const market = SYMBOLS[n % SYMBOLS.length] ?? SYMBOLS[0];
  if (!market) throw new Error('no symbols');
  const price = market.basePrice * (1 + 0.02 * Math.sin(n / 5000) + 0.001 * Math.random());
  const head = `${market.exchangeId},${market.symbol},${ts.toISOString()}`;
  switch (table) {
    case 'tickers':
      return `${head},${price.toFixed(4)},${(price * 1.0001).toFixed(4)},${(price * 0.9999).toFixed(4)},${(price * 0.9998).toFixed(4)},${(price * 1.0002).toFixed(4)},${(1e6 * Math.random()).toFixed(2)}\n`;
    case 'orderbooks':
      return `${head},${(5e5 * Math.random()).toFixed(2)},${(5e5 * Math.random()).toFixed(2)},${(2 * Math.random()).toFixed(3)}\n`;
    case 'trades':
      return `${head},t${n},${price.toFixed(4)},${(10 * Math.random()).toFixed(4)},${n % 2 ? 'buy' : 'sell'}\n`;
    case 'funding_rates':
      return `${head},${(0.0001 * (Math.random() - 0.3)).toFixed(8)},${(0.0001 * Math.random()).toFixed(8)}\n`;
  }
}

/**
 * COPYs `rows` rows into `table`, spread evenly from `from` to `to`, in ts order as ingestion
 * writes them, cycling through the 50 symbols.
 */
export async function copyRows(url: string, table: TimeSeriesTable, rows: number, from: Date, to: Date): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  const span = to.getTime() - from.getTime();
  function* lines() {
    const chunk: string[] = [];
    for (let n = 0; n < rows; n += 1) {
      chunk.push(line(table, n, new Date(from.getTime() + (span * n) / rows)));
      if (chunk.length === 5000) yield chunk.splice(0).join('');
    }
    if (chunk.length > 0) yield chunk.join('');
  }
  try {
    const sql = `COPY ${quoteIdent(table)} (${COLUMNS[table].join(', ')}) FROM STDIN WITH (FORMAT csv)`;
    await pipeline(Readable.from(lines()), client.query(copyFrom(sql)));
  } finally {
    await client.end();
  }
}
