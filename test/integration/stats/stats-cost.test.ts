import { beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../../functions/operations/migrate/migrate';
import { ensurePartitions } from '../../../functions/operations/partitions/partitions';
import { LAST_HOUR_SAMPLE_ROWS } from '../../../functions/operations/stats/last-hour';
import type { StatsReport, TimeSeriesTableStats } from '../../../functions/operations/stats/stats';
import { DAY_MS } from '../../../functions/shared/days';
import { SEEDED_EXCHANGES } from '../../../functions/shared/exchanges';
import { connect, createTestDatabase, testContext } from '../../support/database';
import { analyzeArrived, tuplesReadByStats } from '../../support/tuples-read';

// What a stats run costs where the old one grew: many symbols and many partitions. tickers holds
// 1,000 symbols over the 7 exchanges with a row a day each for the 60 days up to today (today's
// soon after midnight), 50 symbols that ingested in the last hour, and on cryptocom one symbol
// with a row a second (more rows in the hour than stats reads per exchange); orderbooks holds
// exchanges stalled for days, a day or forever.

const NOW = new Date('2026-09-02T10:30:00Z');
const MINUTE = 60_000;
const SYMBOLS = 1_000;
const DAYS = 60;
/** Symbols with rows in the last hour: one every 5 minutes over (09:30, 10:30], 12 each. */
const ACTIVE = 50;
const id = (name: (typeof SEEDED_EXCHANGES)[number]) => SEEDED_EXCHANGES.indexOf(name) + 1;
const at = (msAgo: number) => new Date(NOW.getTime() - msAgo).toISOString();
/** The entry of an exchange whose newest row is `msAgo` old while another exchange is fresh: no row in the hour, stalled. */
const stalledFor = (msAgo: number) => ({
  latest_ts: at(msAgo),
  data_age_seconds: msAgo / 1000,
  rows_last_hour: 0,
  rows_last_hour_exact: true,
  stalled: true,
});

let url: string;
let client: Awaited<ReturnType<typeof connect>>;
let lastHourRows: number;
let read: number;
let report: StatsReport;
let readWithSymbols: number;
let withSymbols: StatsReport;
/** cryptocom's FAST: a row every second of the hour, NOW included. */
const FAST_ROWS = 3600;

beforeAll(async () => {
  url = await createTestDatabase();
  const ctx = testContext(url, { now: NOW });
  await migrate(ctx);
  client = await connect(url);
  // Symbol i lives on exchange 1 + i % 7; bybit's symbols (i % 7 = 1) stopped 3 hours ago.
  await client.query(
    `INSERT INTO tickers (exchange_id, symbol, ts)
     SELECT 1 + i % 7, 'S' || i, $1::timestamptz - d * interval '1 day' + i * interval '1 second'
       FROM generate_series(0, $2 - 1) i, generate_series(0, $3 - 1) d`,
    [NOW.toISOString().slice(0, 10), SYMBOLS, DAYS],
  );
  const recent = await client.query(
    `INSERT INTO tickers (exchange_id, symbol, ts)
     SELECT 1 + i % 7, 'S' || i, $1::timestamptz - m * interval '5 minutes'
       FROM generate_series(0, $2 - 1) i, generate_series(0, 11) m WHERE i % 7 <> 1`,
    [NOW, ACTIVE],
  );
  const fast = await client.query(
    `INSERT INTO tickers (exchange_id, symbol, ts) SELECT $1::int, 'FAST', $2::timestamptz - k * interval '1 second' FROM generate_series(0, $3 - 1) k`,
    [id('cryptocom'), NOW, FAST_ROWS],
  );
  lastHourRows = (recent.rowCount ?? 0) + (fast.rowCount ?? 0);
  await client.query(`INSERT INTO tickers (exchange_id, symbol, ts) VALUES ($1, 'S1', $2)`, [id('bybit'), at(180 * MINUTE)]);

  // orderbooks: binance ingests; kucoin stopped 5 days ago (after 55 days of rows); paradex 20
  // hours ago (and has a row from the future); lighter has one row of 2025 waiting in the DEFAULT
  // partition; bybit, hyperliquid and cryptocom never wrote one.
  await client.query(
    `INSERT INTO orderbooks (exchange_id, symbol, ts)
     SELECT $1::int, 'BTC', $2::timestamptz - m * interval '1 minute' FROM generate_series(0, 119) m
     UNION ALL SELECT $3::int, 'ETH', $2::timestamptz - interval '5 days' - d * interval '1 day' FROM generate_series(0, 54) d
     UNION ALL SELECT $4::int, 'SOL', $2::timestamptz - interval '20 hours'
     UNION ALL SELECT $4::int, 'SOL', $2::timestamptz + interval '2 hours'`,
    [id('binance'), NOW, id('kucoin'), id('paradex')],
  );
  // The rows of past days go from the DEFAULT partition into day partitions of their own.
  await ensurePartitions(ctx, { daysAhead: 2 });
  await client.query(`INSERT INTO orderbooks (exchange_id, symbol, ts) VALUES ($1, 'ARB', '2025-01-01T00:00:00Z')`, [id('lighter')]);
  await client.query('VACUUM ANALYZE');
  await analyzeArrived(client);
  ({ read, report } = await tuplesReadByStats(client, url, 'tickers', NOW));
  ({ read: readWithSymbols, report: withSymbols } = await tuplesReadByStats(client, url, 'tickers', NOW, { symbols: true }));
});

const series = (table: 'tickers' | 'orderbooks') => report.tables[table] as TimeSeriesTableStats;

describe('stats at many symbols and partitions', () => {
  it('has the shape it is measured on: 61 day partitions, too large to count exactly', () => {
    expect(series('tickers')).toMatchObject({ partitions: DAYS + 1, row_count_exact: false });
    expect(lastHourRows).toBe(12 * 43 + FAST_ROWS); // the 43 of the first 50 symbols not on bybit, and FAST
  });

  it("reads at most LAST_HOUR_SAMPLE_ROWS + 1 of an exchange's last hour and a bounded number of index entries, not one per row, symbol or partition", () => {
    expect(read).toBeGreaterThan(0); // the counters did arrive: the bound below means something
    // The last hour's rows of every exchange but cryptocom, of cryptocom only the newest
    // LAST_HOUR_SAMPLE_ROWS + 1 (and what the index scan steps over once), and per exchange at
    // most one entry from each relation of the recent day (two day partitions, and the DEFAULT)
    // for bybit, which has no row in the hour. Reading FAST's whole hour, one entry per symbol of
    // today's partition (1,000) or per exchange and partition (7 x 61) would not fit.
    const cryptocomHour = 12 * 7 + FAST_ROWS; // its 7 active symbols and FAST
    expect(read).toBeLessThanOrEqual(lastHourRows - cryptocomHour + (LAST_HOUR_SAMPLE_ROWS + 2) + SEEDED_EXCHANGES.length * 3);
  });

  it("with symbols, reads the last hour's rows once each, and no more", () => {
    expect(readWithSymbols).toBeGreaterThanOrEqual(lastHourRows);
    expect(readWithSymbols).toBeLessThanOrEqual(lastHourRows + SEEDED_EXCHANGES.length * 3);
  });

  it("counts an exchange's last hour exactly up to LAST_HOUR_SAMPLE_ROWS, above it from the rate of its newest rows", () => {
    // Its hour holds FAST's 3,600 rows and its 7 active symbols' 84: a steady rate, which the
    // newest LAST_HOUR_SAMPLE_ROWS + 1 rows (about the last 16 minutes) tell to within a few percent.
    const cryptocom = report.exchanges.cryptocom?.tickers;
    const exact = FAST_ROWS + 12 * 7;
    expect(cryptocom).toMatchObject({ rows_last_hour_exact: false, latest_ts: NOW.toISOString() });
    expect(Math.abs((cryptocom?.rows_last_hour ?? 0) - exact) / exact).toBeLessThan(0.05);
    expect(series('tickers')).toMatchObject({
      rows_last_hour: lastHourRows - exact + (cryptocom?.rows_last_hour ?? 0),
      rows_last_hour_exact: false,
    });
    expect(withSymbols.exchanges.cryptocom?.tickers).toMatchObject({ rows_last_hour: 12 * 7 + FAST_ROWS, rows_last_hour_exact: true });
    expect((withSymbols.tables.tickers as TimeSeriesTableStats).rows_last_hour).toBe(lastHourRows);
  });

  it('reports the last hour per symbol when asked, and per exchange always, and the newest row of a quiet exchange', () => {
    expect(report.recent_ingest).toBeNull();
    const tickers = (withSymbols.recent_ingest ?? []).filter((r) => r.table === 'tickers' && r.symbol !== 'FAST');
    expect(tickers).toHaveLength(43);
    expect(tickers.every((r) => r.rows_last_hour === 12 && r.latest_ts === NOW.toISOString())).toBe(true);
    expect(withSymbols.recent_ingest).toContainEqual({
      table: 'tickers',
      symbol: 'FAST',
      rows_last_hour: FAST_ROWS,
      latest_ts: NOW.toISOString(),
    });
    expect(report.exchanges.binance?.tickers).toMatchObject({
      rows_last_hour: 12 * 8,
      rows_last_hour_exact: true,
      latest_ts: NOW.toISOString(),
    });
    expect(report.exchanges.bybit?.tickers).toEqual(stalledFor(180 * MINUTE));
    expect(series('tickers')).toMatchObject({ latest_ts: NOW.toISOString(), data_age_seconds: 0 });
  });

  it('gives an exchange stalled for days, or with only an old late row, its exact newest row', () => {
    expect(report.exchanges.kucoin?.orderbooks).toEqual(stalledFor(5 * DAY_MS));
    expect(report.exchanges.lighter?.orderbooks).toMatchObject({ latest_ts: '2025-01-01T00:00:00.000Z', stalled: true });
    // Within the recent day, its future row ignored.
    expect(report.exchanges.paradex?.orderbooks).toMatchObject({ latest_ts: at(20 * 3600_000), data_age_seconds: 20 * 3600 });
    for (const absent of ['bybit', 'hyperliquid', 'cryptocom']) {
      expect(report.exchanges[absent]?.orderbooks).toEqual({
        latest_ts: null,
        data_age_seconds: null,
        rows_last_hour: 0,
        rows_last_hour_exact: true,
        stalled: false,
      });
    }
    expect(report.exchanges.binance?.orderbooks).toMatchObject({ latest_ts: NOW.toISOString(), rows_last_hour: 60, stalled: false });
    expect(series('orderbooks')).toMatchObject({ latest_ts: NOW.toISOString() });
  });
});
