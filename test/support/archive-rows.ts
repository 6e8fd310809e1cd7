import type pg from 'pg';
import { ARCHIVE_COLUMNS } from '../../functions/shared/archive/layout';
import type { TimeSeriesTable } from '../../functions/shared/tables';
import type { ArchivedRow } from './parquet-reader';

/**
 * Rows at the edges of what the archive must keep exactly, on `day`: NUMERICs with many digits,
 * negative, zero, NULL, 18 fraction digits, 20 integer digits, trailing zeros past 18; the day's
 * first and last microsecond; JSONB with numbers no double holds and unicode.
 */
export async function insertEdgeRows(client: pg.ClientBase, day: string): Promise<void> {
  const at = (time: string) => `${day} ${time}+00`;
  const market = `(SELECT min(id) FROM markets)`;
  await client.query(`INSERT INTO markets (exchange_id, symbol) VALUES (1, 'BTC-PERP') ON CONFLICT DO NOTHING`);
  await client.query(
    `INSERT INTO trades (exchange_id, market_id, symbol, ts, received_at, trade_id, price, size, side, raw) VALUES
      (1, ${market}, 'BTC-PERP', $1, NULL, NULL, 123456789012.123456789012, -0.000000000001, NULL, NULL),
      (2, NULL, 'ETH-PERP', $2, $3, 't-2', 0, 99999999999999999999.999999999999999999, 'buy',
       '{"big": 123456789012345678901234567890.123456789, "u": "ünïcødé ✓ 🚀 \\"q\\" \\\\ /", "n": {"a": [1, 2.50, -0, 1e40]}}'),
      (3, NULL, 'SOL-PERP', $4, $4, 't-3', 0.000000000000000001, 1.50000000000000000000000000, 'sell', '[]'),
      (4, NULL, 'SOL-PERP', $4, NULL, '', -99999999999999999999.999999999999999999, 12345678901234567890.5, '', '"text"')`,
    [at('00:00:00.000000'), at('23:59:59.999999'), `${day} 23:59:59.999999-01`, at('12:34:56.789012')],
  );
  await client.query(
    `INSERT INTO tickers (exchange_id, market_id, symbol, ts, received_at, last_price, mark_price, index_price, best_bid, best_ask,
                          volume_24h, turnover_24h, price_change_24h, high_24h, low_24h) VALUES
      (1, NULL, 'BTC-PERP', $1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (1, ${market}, 'BTC-PERP', $2, $2, 65000.5, 65000.25, 64999.75, 64999.5, 65001, 1234567.123456789,
       80234567890.12, -1.23, 66000, 0)`,
    [at('00:00:00.000000'), at('23:59:59.999999')],
  );
  await client.query(
    `INSERT INTO orderbooks (exchange_id, symbol, ts, bids_notional, asks_notional, raw_book, spread_bps) VALUES
      (1, 'BTC-PERP', $1, 1.1, NULL, '{"bids": [["65000.123456789012345678", "0.5"]], "asks": [], "note": "日本語"}', 0.000123),
      (2, 'ETH-PERP', $2, NULL, 2.2, NULL, NULL)`,
    [at('00:00:00.000000'), at('23:59:59.999999')],
  );
  await client.query(
    `INSERT INTO funding_rates (exchange_id, symbol, ts, rate, next_rate, raw) VALUES
      (1, 'BTC-PERP', $1, 0.0001, NULL, '{"rate": "0.0001"}'),
      (2, 'ETH-PERP', $2, -0.000000000000000001, 0.000375, NULL)`,
    [at('08:00:00.000000'), at('16:00:00.000000')],
  );
}

/** `count` plain trades on `day`, one a millisecond from 01:00: enough for several row groups. */
export async function insertManyTrades(client: pg.ClientBase, day: string, count: number): Promise<void> {
  await client.query(
    `INSERT INTO trades (exchange_id, symbol, ts, trade_id, price, size, side)
     SELECT 1 + i % 7, 'SYM-' || (i % 50), $1::timestamptz + i * interval '1 millisecond', 'x' || i,
            round((i * 1.000001)::numeric, 6), (i % 1000) / 1000.0 + 0.001, CASE WHEN i % 2 = 0 THEN 'buy' ELSE 'sell' END
       FROM generate_series(1, $2::int) AS i`,
    [`${day} 01:00:00+00`, count],
  );
}

/**
 * The partition's rows as PostgreSQL holds them, as the archive must hold them: integers and
 * text as text, NUMERIC at DECIMAL(38,18)'s 18 fraction digits, JSONB as its text, timestamps
 * as microseconds since the epoch computed here in JS from PostgreSQL's UTC text (not with
 * the archive's SQL). Ordered by id.
 */
export async function postgresRows(client: pg.ClientBase, table: TimeSeriesTable, relation: string): Promise<ArchivedRow[]> {
  const columns = ARCHIVE_COLUMNS[table];
  const select = columns.map((column) => {
    const name = `"${column.name}"`;
    switch (column.kind) {
      case 'decimal':
        return `round(${name}, 18)::text AS ${name}`;
      case 'timestamp':
        return `to_char(${name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' ' || to_char(${name} AT TIME ZONE 'UTC', 'US') AS ${name}`;
      default:
        return `${name}::text AS ${name}`;
    }
  });
  const { rows } = await client.query<ArchivedRow>(`SELECT ${select.join(', ')} FROM "${relation}" ORDER BY id`);
  const timestamps = columns.filter((column) => column.kind === 'timestamp').map((column) => column.name);
  return rows.map((row) => {
    const out = { ...row };
    for (const name of timestamps) {
      const value = row[name];
      if (value == null) continue;
      const [iso = '', micros = '0'] = value.split(' ');
      out[name] = String(BigInt(Date.parse(iso) / 1000) * 1_000_000n + BigInt(micros));
    }
    return out;
  });
}

/**
 * `count` rows in each time-series table on `day`, spread over six symbols (so `symbol` is
 * dictionary-encoded), with decimals of every size and sign, NULLs and JSON: what the reader
 * tests filter on.
 */
export async function insertVariedRows(client: pg.ClientBase, day: string, count: number): Promise<void> {
  const series = `FROM generate_series(1, $2::int) AS i`;
  const symbol = `(ARRAY['BTC-PERP', 'ETH-PERP', 'SOL-PERP', 'DOGE-PERP', 'XRP-PERP', 'ARB-PERP'])[1 + i % 6]`;
  const ts = `$1::timestamptz + i * interval '7 seconds 3 microseconds'`;
  const price = `round((i * 37.123456789)::numeric + 0.000000000000000001 * i, 18)`;
  await client.query(
    `INSERT INTO trades (exchange_id, symbol, ts, received_at, trade_id, price, size, side, raw)
     SELECT 1 + i % 7, ${symbol}, ${ts}, CASE WHEN i % 5 = 0 THEN NULL ELSE ${ts} END, 't' || i, ${price}, (i % 1000) / 1000.0 + 0.001,
            CASE WHEN i % 3 = 0 THEN NULL WHEN i % 2 = 0 THEN 'buy' ELSE 'sell' END,
            CASE WHEN i % 4 = 0 THEN NULL ELSE jsonb_build_object('i', i, 'p', ${price}::text) END ${series}`,
    [`${day} 00:00:01+00`, count],
  );
  await client.query(
    `INSERT INTO tickers (exchange_id, symbol, ts, last_price, mark_price, best_bid, best_ask, volume_24h, price_change_24h)
     SELECT 1 + i % 7, ${symbol}, ${ts}, ${price}, ${price} + 0.5, CASE WHEN i % 7 = 0 THEN NULL ELSE ${price} - 0.25 END,
            ${price} + 0.25, i * 1000.5, (i % 11 - 5) * 0.01 ${series}`,
    [`${day} 00:00:02+00`, count],
  );
  await client.query(
    `INSERT INTO orderbooks (exchange_id, symbol, ts, bids_notional, asks_notional, raw_book, spread_bps)
     SELECT 1 + i % 7, ${symbol}, ${ts}, ${price} * 10, CASE WHEN i % 9 = 0 THEN NULL ELSE ${price} * 11 END,
            jsonb_build_object('bids', jsonb_build_array(jsonb_build_array(${price}::text, '1.5'))), (i % 13) * 0.001 ${series}`,
    [`${day} 00:00:03+00`, count],
  );
  await client.query(
    `INSERT INTO funding_rates (exchange_id, symbol, ts, rate, next_rate, raw)
     SELECT 1 + i % 7, ${symbol}, ${ts}, (i % 21 - 10) * 0.00001, CASE WHEN i % 2 = 0 THEN NULL ELSE 0.0001 END,
            jsonb_build_object('n', i) ${series}`,
    [`${day} 00:00:04+00`, count],
  );
}
