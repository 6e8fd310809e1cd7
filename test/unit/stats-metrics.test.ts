import { describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../functions/core/operations';
import type { StatsReport, TableStats, TimeSeriesTableStats } from '../../functions/core/stats';

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
  };
}

describe('the stats metrics', () => {
  it('publish growth per table where a day has closed, and the storage runway only when it is known', () => {
    const unlimited = OPERATIONS.stats.metrics(report({}));
    expect(unlimited.database).toEqual({ DatabaseSizeBytes: 5000, BacklogRows: 0 });
    expect(unlimited.tables?.tickers?.GrowthBytesPerDay).toBe(1000);
    expect(unlimited.tables?.orderbooks).not.toHaveProperty('GrowthBytesPerDay');
    expect(unlimited.exchanges).toEqual({ binance: { tickers: { ExchangeDataAgeSeconds: 5 } } });
    const limited = OPERATIONS.stats.metrics(report({ storage_limit_bytes: 100_000, storage_runway_days: 95 }));
    expect(limited.database).toEqual({ DatabaseSizeBytes: 5000, BacklogRows: 0, StorageRunwayDays: 95 });
  });

  it('publish the rows out of sight of every time-series table as one metric, 0 included', () => {
    const hidden = report({});
    hidden.tables.trades = series({ backlog_rows: 120, backlog_tables: ['trades_backlog_1'] });
    hidden.tables.tickers = series({ backlog_rows: 3, backlog_tables: ['tickers_2026_11_20'] });
    expect(OPERATIONS.stats.metrics(hidden).database).toMatchObject({ BacklogRows: 123 });
    expect(OPERATIONS.stats.metrics(hidden).tables?.trades).not.toHaveProperty('BacklogRows');
  });
});
