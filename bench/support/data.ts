import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { addDays, dayBoundLiterals, dayStart, partitionName } from '../../functions/shared/days';
import { quoteIdent } from '../../functions/shared/db/identifiers';
import type { TimeSeriesTable } from '../../functions/shared/tables';

/** A market the generated rows belong to. */
export interface BenchSymbol {
  symbol: string;
  exchangeId: number;
  basePrice: number;
}

const BASES = ['BTC', 'ETH', 'SOL', 'XRP', 'DOGE', 'ADA', 'AVAX', 'LINK', 'DOT', 'ARB'];

/** `count` symbols over the 7 seeded exchanges: symbol i trades on exchange 1 + i % 7. */
export function benchSymbols(count: number): BenchSymbol[] {
  return Array.from({ length: count }, (_, i) => ({
    symbol: `${BASES[i % 10]}${i >= 10 ? i : ''}-PERP`,
    exchangeId: 1 + (i % 7),
    basePrice: 100 * (1 + ((i * 7919) % 500)),
  }));
}

/** The default benchmark's 50 symbols. */
export const SYMBOLS = benchSymbols(50);

export async function seedMarkets(url: string, symbols: BenchSymbol[] = SYMBOLS): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  await client.query(
    `INSERT INTO markets (exchange_id, symbol, base_currency, quote_currency, contract_type, tick_size, lot_size)
     SELECT e, s, split_part(s, '-', 1), 'USDT', 'perpetual', 0.01, 0.001 FROM unnest($1::int[], $2::text[]) AS m(e, s)
     ON CONFLICT DO NOTHING`,
    [symbols.map((s) => s.exchangeId), symbols.map((s) => s.symbol)],
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
function line(table: TimeSeriesTable, n: number, ts: Date, symbols: BenchSymbol[]): string {
  const market = symbols[n % symbols.length] ?? symbols[0];
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

export interface CopyOptions {
  /** The markets the rows cycle through (default: the 50 of SYMBOLS). */
  symbols?: BenchSymbol[];
  /** The relation to COPY into, when not `table` itself (a standalone table shaped like it). */
  into?: string;
}

/**
 * COPYs `rows` rows into `table`, spread evenly from `from` to `to`, in ts order as ingestion
 * writes them, cycling through the symbols.
 */
export async function copyRows(
  url: string,
  table: TimeSeriesTable,
  rows: number,
  from: Date,
  to: Date,
  options: CopyOptions = {},
): Promise<void> {
  const symbols = options.symbols ?? SYMBOLS;
  const client = new pg.Client(url);
  await client.connect();
  const span = to.getTime() - from.getTime();
  function* lines() {
    const chunk: string[] = [];
    for (let n = 0; n < rows; n += 1) {
      chunk.push(line(table, n, new Date(from.getTime() + (span * n) / rows), symbols));
      if (chunk.length === 5000) yield chunk.splice(0).join('');
    }
    if (chunk.length > 0) yield chunk.join('');
  }
  try {
    const sql = `COPY ${quoteIdent(options.into ?? table)} (${COLUMNS[table].join(', ')}) FROM STDIN WITH (FORMAT csv)`;
    await pipeline(Readable.from(lines()), client.query(copyFrom(sql)));
  } finally {
    await client.end();
  }
}

/**
 * The indexes migration 0001 gives every partition, built after the load (a sort per index, far
 * quicker than keeping them up row by row). ATTACH adopts them as the partitions of the parent's.
 */
function partitionIndexes(relation: string): string[] {
  const name = quoteIdent(relation);
  return [
    `ALTER TABLE ${name} ADD PRIMARY KEY (id, ts)`,
    `CREATE INDEX ON ${name} (symbol, ts DESC)`,
    `CREATE INDEX ON ${name} (exchange_id, ts DESC)`,
  ];
}

/**
 * A day partition holding `rows` rows spread over the day (setup, not measured): COPY into a bare
 * table, then its indexes, VACUUM ANALYZE (as autovacuum would have left an old day) and ATTACH.
 */
export async function loadDayPartition(
  url: string,
  table: TimeSeriesTable,
  day: string,
  rows: number,
  symbols: BenchSymbol[],
): Promise<void> {
  const name = partitionName(table, day);
  const { from, to } = dayBoundLiterals(day);
  await runAll(url, [`CREATE TABLE ${quoteIdent(name)} (LIKE ${quoteIdent(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`]);
  await copyRows(url, table, rows, dayStart(day), new Date(dayStart(addDays(day, 1)).getTime() - 1), { symbols, into: name });
  await runAll(url, [
    ...partitionIndexes(name),
    `VACUUM ANALYZE ${quoteIdent(name)}`,
    `ALTER TABLE ${quoteIdent(table)} ATTACH PARTITION ${quoteIdent(name)} FOR VALUES FROM ('${from}') TO ('${to}')`,
  ]);
}

/**
 * A DEFAULT partition holding `rows` rows spread from `from` to `to` (days with no partition), as
 * a broken partitions schedule leaves it: loaded bare, indexed like migration 0001's default, then
 * swapped in for the empty default (setup, not measured).
 */
export async function loadDefaultBacklog(
  url: string,
  table: TimeSeriesTable,
  rows: number,
  from: Date,
  to: Date,
  symbols: BenchSymbol[],
): Promise<void> {
  const loading = `${table}_default_loading`;
  const name = quoteIdent(`${table}_default`);
  await runAll(url, [`CREATE TABLE ${quoteIdent(loading)} (LIKE ${quoteIdent(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`]);
  await copyRows(url, table, rows, from, to, { symbols, into: loading });
  await runAll(url, [
    ...partitionIndexes(loading),
    `CREATE INDEX ${quoteIdent(`${loading}_ts`)} ON ${quoteIdent(loading)} (ts)`,
    `VACUUM ANALYZE ${quoteIdent(loading)}`,
    'BEGIN',
    `DROP TABLE ${name}`,
    `ALTER TABLE ${quoteIdent(loading)} RENAME TO ${name}`,
    `ALTER INDEX ${quoteIdent(`${loading}_ts`)} RENAME TO ${quoteIdent(`idx_${table}_default_ts`)}`,
    `ALTER TABLE ${quoteIdent(table)} ATTACH PARTITION ${name} DEFAULT`,
    'COMMIT',
  ]);
}

async function runAll(url: string, statements: string[]): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}
