import { describe, expect, it } from 'vitest';
import { LocalMetrics } from '../../functions/cli/metrics';
import { dimensionValue, publishReportMetrics } from '../../functions/lambda/metrics';
import { OPERATIONS } from '../../functions/operations/registry';
import type { StatsReport, TableStats, TimeSeriesTableStats } from '../../functions/operations/stats/stats';
import { publishesSizeMetrics } from '../../functions/shared/metric-names';

const small: TableStats = { row_count: 7, row_count_exact: true, table_bytes: 8192, index_bytes: 16384, total_bytes: 24576 };
const series = (over: Partial<TimeSeriesTableStats>): TimeSeriesTableStats => ({
  ...small,
  partitions: 7,
  oldest_partition: '2026-11-22',
  newest_partition: '2026-12-05',
  runway_days: 7,
  default_rows: 0,
  backlog_rows: 0,
  backlog_tables: [],
  rows_last_hour: 1200,
  rows_last_hour_exact: true,
  latest_ts: '2026-11-29T10:00:00.000Z',
  data_age_seconds: 5,
  bytes_per_day: 1000,
  rows_per_day: 10,
  growth_days: ['2026-11-28'],
  ...over,
});

function report(database: Partial<StatsReport['database']>): StatsReport {
  return {
    operation: 'stats',
    fetched_at: '2026-11-29T10:00:05.000Z',
    database: {
      name: 'perps',
      size_bytes: 5000,
      growth_bytes_per_day: 1000,
      storage_limit_bytes: null,
      storage_runway_days: null,
      ...database,
    },
    tables: {
      exchanges: small,
      markets: small,
      tickers: series({}),
      orderbooks: series({ bytes_per_day: null, rows_per_day: null, growth_days: [] }),
      trades: series({}),
      funding_rates: series({}),
      ingest_events: small,
    },
    recent_ingest: [],
    exchanges: {
      binance: {
        tickers: {
          latest_ts: '2026-11-29T10:00:00.000Z',
          data_age_seconds: 5,
          rows_last_hour: 3,
          rows_last_hour_exact: true,
          stalled: false,
        },
        orderbooks: { latest_ts: null, data_age_seconds: null, rows_last_hour: 0, rows_last_hour_exact: true, stalled: false },
        trades: { latest_ts: null, data_age_seconds: null, rows_last_hour: 0, rows_last_hour_exact: true, stalled: false },
        funding_rates: { latest_ts: null, data_age_seconds: null, rows_last_hour: 0, rows_last_hour_exact: true, stalled: false },
      },
    },
    jobs: null,
  };
}

const ON = { dataAge: true };

describe('the stats metrics', () => {
  it('publish, every run, one value per concern over the tables and each exchange its freshest table, no per-table metric', () => {
    const regular = OPERATIONS.stats.metrics(report({}), ON);
    expect(regular.database).toEqual({
      DatabaseSizeBytes: 5000,
      BacklogRows: 0,
      DefaultPartitionRows: 0,
      PartitionRunwayDays: 7,
      DataAgeSeconds: 5,
    });
    expect(regular).not.toHaveProperty('tables');
    expect(regular.exchanges).toEqual({ binance: { ExchangeDataAgeSeconds: 5 } });
  });

  it('add the sizes, growth per table where a day has closed and the storage runway when known, in the first 10 minutes of every 6th hour', () => {
    const at = (fetched_at: string, database: Partial<StatsReport['database']> = {}) => ({ ...report(database), fetched_at });
    const sized = OPERATIONS.stats.metrics(at('2026-11-29T12:05:00.000Z', { storage_limit_bytes: 100_000, storage_runway_days: 95 }), ON);
    expect(sized.database).toMatchObject({ StorageRunwayDays: 95 });
    expect(sized.tables?.tickers).toEqual({ TotalBytes: 24576, RowsLastHour: 1200, GrowthBytesPerDay: 1000 });
    expect(sized.tables?.orderbooks).toEqual({ TotalBytes: 24576, RowsLastHour: 1200 });
    expect(sized.tables?.markets).toEqual({ TotalBytes: 24576 });
    expect(Object.keys(sized.tables ?? {})).toHaveLength(7);
    expect(OPERATIONS.stats.metrics(at('2026-11-29T18:00:00.000Z'), ON).database).not.toHaveProperty('StorageRunwayDays');
    expect(OPERATIONS.stats.metrics(at('2026-11-29T18:10:00.000Z', { storage_runway_days: 95 }), ON)).not.toHaveProperty('tables');
    expect(OPERATIONS.stats.metrics(at('2026-11-29T13:00:00.000Z', { storage_runway_days: 95 }), ON).database).not.toHaveProperty(
      'StorageRunwayDays',
    );
    const hours = Array.from({ length: 24 }, (_, h) => h).filter((h) => publishesSizeMetrics(new Date(Date.UTC(2026, 10, 29, h, 9, 59))));
    expect(hours).toEqual([0, 6, 12, 18]);
  });

  it('sum the rows out of sight and in DEFAULT partitions, 0 included; take the shortest runway and the stalest table', () => {
    const hidden = report({});
    hidden.tables.trades = series({ backlog_rows: 120, backlog_tables: ['trades_backlog_1'], default_rows: 4, runway_days: 1 });
    hidden.tables.tickers = series({ backlog_rows: 3, backlog_tables: ['tickers_2026_11_20'], data_age_seconds: 4000 });
    hidden.tables.orderbooks = series({ data_age_seconds: null, default_rows: 6 });
    expect(OPERATIONS.stats.metrics(hidden, ON).database).toMatchObject({
      BacklogRows: 123,
      DefaultPartitionRows: 10,
      PartitionRunwayDays: 1,
      DataAgeSeconds: 4000,
    });
  });

  it('leave data age out with the data-age metrics off, and where no table has a row', () => {
    const off = OPERATIONS.stats.metrics(report({}), { dataAge: false });
    expect(off.database).not.toHaveProperty('DataAgeSeconds');
    expect(off).not.toHaveProperty('exchanges');
    const empty = report({});
    for (const table of ['tickers', 'orderbooks', 'trades', 'funding_rates'] as const)
      empty.tables[table] = series({ data_age_seconds: null });
    empty.exchanges = {};
    const none = OPERATIONS.stats.metrics(empty, ON);
    expect(none.database).not.toHaveProperty('DataAgeSeconds');
    expect(none.exchanges).toEqual({});
  });
});

describe('the stats metrics of exchanges an ingester named (issue 22, point 11)', () => {
  const fresh = {
    latest_ts: '2026-11-29T10:00:00.000Z',
    data_age_seconds: 5,
    rows_last_hour: 3,
    rows_last_hour_exact: true,
    stalled: false,
  };
  const names = ['binance', 'a\u001b]0;x\u0007\rb', 'y'.repeat(5000), 'y'.repeat(5001), ' ', 'caf\u00e9'];

  it('publish one EMF document per exchange, valid JSON, each dimension value printable ASCII of 1-1,024 characters', () => {
    const documents: string[] = [];
    const metrics = new LocalMetrics((emf) => documents.push(emf));
    const hostile = report({});
    const tables = { tickers: fresh, orderbooks: fresh, trades: fresh, funding_rates: fresh };
    hostile.exchanges = Object.fromEntries(names.map((name) => [name, tables]));
    publishReportMetrics(metrics, OPERATIONS.stats.metrics(hostile, ON));
    const exchanges = documents
      .map((text) => JSON.parse(text) as Record<string, unknown>)
      .filter((document) => 'Exchange' in document)
      .map((document) => document.Exchange);
    expect(exchanges).toHaveLength(names.length);
    for (const value of exchanges) expect(value).toMatch(/^(?=.*\S)[\u0020-\u007e]{1,1024}$/);
    expect(new Set(exchanges).size).toBe(names.length);
  });

  it('keep a name CloudWatch accepts as it is, and escape, cut and tag any other', () => {
    expect(dimensionValue('binance')).toBe('binance');
    expect(dimensionValue('a\u001b]0;x\u0007\rb')).toMatch(/^a\\x1b\]0;x\\x07\\x0db~[0-9a-f]{12}$/);
    expect(dimensionValue('caf\u00e9')).toMatch(/^caf\\xe9~[0-9a-f]{12}$/);
    expect(dimensionValue(' ')).toMatch(/^ ~[0-9a-f]{12}$/);
    expect(dimensionValue('y'.repeat(1024))).toBe('y'.repeat(1024));
    expect(dimensionValue('y'.repeat(5000))).toMatch(/^y{1011}~[0-9a-f]{12}$/);
    expect(dimensionValue('y'.repeat(5000))).not.toBe(dimensionValue('y'.repeat(5001)));
  });
});
