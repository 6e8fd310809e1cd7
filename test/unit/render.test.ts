import { describe, expect, it } from 'vitest';
import { renderReport } from '../../functions/cli/render';
import { age, size } from '../../functions/cli/renderers/columns';
import type { PrunePlanReport } from '../../functions/operations/prune/prune';
import type { ExchangeTableFreshness } from '../../functions/operations/stats/exchanges';
import type { StatsReport, TableStats, TimeSeriesTableStats } from '../../functions/operations/stats/stats';

const small: TableStats = { row_count: 7, row_count_exact: true, table_bytes: 16384, index_bytes: 49152, total_bytes: 65536 };
const series = (over: Partial<TimeSeriesTableStats> = {}): TimeSeriesTableStats => ({
  ...small,
  partitions: 7,
  oldest_partition: '2026-11-29',
  newest_partition: '2026-12-05',
  runway_days: 7,
  default_rows: 0,
  backlog_rows: 0,
  backlog_tables: [],
  rows_last_hour: 1200,
  rows_last_hour_exact: true,
  latest_ts: '2026-11-29T10:00:00.000Z',
  data_age_seconds: 109,
  bytes_per_day: 3 * 1024 * 1024,
  rows_per_day: 86400,
  growth_days: ['2026-11-22', '2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26', '2026-11-27', '2026-11-28'],
  ...over,
});

function statsReport(tables: Partial<StatsReport['tables']>, extra: Partial<StatsReport> = {}): StatsReport {
  return {
    operation: 'stats',
    fetched_at: '2026-11-29T10:01:49.000Z',
    database: {
      name: 'perps',
      size_bytes: 10 * 1024 * 1024,
      growth_bytes_per_day: 12 * 1024 * 1024,
      storage_limit_bytes: null,
      storage_runway_days: null,
    },
    tables: {
      exchanges: small,
      markets: small,
      tickers: series(),
      orderbooks: series(),
      trades: series(),
      funding_rates: series(),
      ingest_events: small,
      ...tables,
    },
    recent_ingest: [],
    exchanges: {},
    jobs: null,
    ...extra,
  };
}

const fresh = (over: Partial<ExchangeTableFreshness> = {}): ExchangeTableFreshness => ({
  latest_ts: '2026-11-29T10:01:00.000Z',
  data_age_seconds: 49,
  rows_last_hour: 1200,
  rows_last_hour_exact: true,
  stalled: false,
  ...over,
});
const none = fresh({ latest_ts: null, data_age_seconds: null, rows_last_hour: 0 });

describe('the stats table', () => {
  it('gives every column its own heading', () => {
    const header =
      renderReport(statsReport({}))
        .split('\n')[1]
        ?.trim()
        .split(/\s{2,}/) ?? [];
    expect(header).toEqual(['table', 'rows', 'total', 'partitions', 'runway', 'default rows', 'latest', 'age', 'growth/day (days)']);
  });

  it('shows sizes in binary units, as pg_size_pretty does', () => {
    expect([size(16384), size(10 * 1024 * 1024), size(1536)]).toEqual(['16 KiB', '10 MiB', '1.5 KiB']);
    expect(renderReport(statsReport({})).split('\n')[0]).toBe('database perps: 10 MiB, growing 12 MiB a day, at 2026-11-29T10:01:49.000Z');
    expect(renderReport(statsReport({}))).toMatch(/^trades\s.*1m 49s\s+3 MiB \(7\)$/m);
    const limited = statsReport(
      {},
      {
        database: {
          name: 'perps',
          size_bytes: 10 * 1024 * 1024,
          growth_bytes_per_day: 12 * 1024 * 1024,
          storage_limit_bytes: 20 * 1024 ** 3,
          storage_runway_days: 1705,
        },
      },
    );
    expect(renderReport(limited).split('\n')[0]).toBe(
      'database perps: 10 MiB of 20 GiB, growing 12 MiB a day: full in 1705 days, at 2026-11-29T10:01:49.000Z',
    );
    const young = statsReport(
      {},
      {
        database: {
          name: 'perps',
          size_bytes: 10 * 1024 * 1024,
          growth_bytes_per_day: null,
          storage_limit_bytes: null,
          storage_runway_days: null,
        },
      },
    );
    expect(renderReport(young).split('\n')[0]).toBe(
      'database perps: 10 MiB, growth not measured yet (no closed day partition), at 2026-11-29T10:01:49.000Z',
    );
  });

  it('names rows out of sight under the table, and only when some wait', () => {
    expect(renderReport(statsReport({}))).not.toContain('out of sight');
    const hidden = renderReport(
      statsReport({ trades: series({ backlog_rows: 120, backlog_tables: ['trades_backlog_1', 'trades_2026_11_20'] }) }),
    );
    expect(hidden).toContain(
      'out of sight: 120 rows of trades in trades_backlog_1, trades_2026_11_20, not counted above: run partitions to bring them back',
    );
  });

  it('fits the table of tables in 120 columns (the rest of each table is in --format json)', () => {
    const lines = renderReport(statsReport({ trades: series({ row_count: 5_000_000, row_count_exact: false }) })).split('\n');
    const table = lines.slice(1, lines.indexOf(''));
    expect(table.length).toBeGreaterThan(4);
    for (const line of table) expect(line.length, line).toBeLessThanOrEqual(120);
  });

  it('explains ~ only when a count is an estimate', () => {
    const estimated = renderReport(statsReport({ trades: series({ row_count: 5_000_000, row_count_exact: false }) }));
    expect(estimated.split('\n')[0]).toContain('(~ = estimate)');
    expect(estimated).toMatch(/^trades\s+~5000000\s/m);
    expect(renderReport(statsReport({}))).not.toContain('estimate');
  });

  it('shows ages in minutes, hours and days', () => {
    expect([age(0), age(59), age(109), age(3 * 3600), age(3 * 3600 + 125), age(2 * 86400 + 4 * 3600 + 61)]).toEqual([
      '0s',
      '59s',
      '1m 49s',
      '3h',
      '3h 2m',
      '2d 4h',
    ]);
    expect(renderReport(statsReport({}))).toMatch(/^tickers\s.*2026-11-29T10:00:00.000Z\s+1m 49s\s/m);
  });

  it('tells a table with only future rows from an empty one', () => {
    const text = renderReport(
      statsReport({
        trades: series({ row_count: 1, latest_ts: null, data_age_seconds: null }),
        tickers: series({ row_count: 0, latest_ts: null, data_age_seconds: null }),
      }),
    );
    expect(text).toMatch(/^trades\s.*only future rows\s/m);
    expect(text).toMatch(/^tickers\s.*no data\s/m);
  });

  it('lists each exchange per table it has rows in, and marks the one that stalled', () => {
    const exchanges = {
      binance: { tickers: fresh(), orderbooks: fresh(), trades: fresh(), funding_rates: none },
      bybit: {
        tickers: fresh({
          latest_ts: '2026-11-29T08:00:00.000Z',
          data_age_seconds: 7309,
          rows_last_hour: 0,
          rows_last_hour_exact: true,
          stalled: true,
        }),
        orderbooks: none,
        trades: none,
        funding_rates: none,
      },
    };
    const text = renderReport(statsReport({}, { exchanges }));
    expect(text).toMatch(/^exchange\s+table\s+rows last hour\s+latest\s+age$/m);
    expect(text).toMatch(/^binance\s+tickers\s+1200\s+2026-11-29T10:01:00.000Z\s+49s$/m);
    expect(text).toMatch(/^bybit\s+tickers\s+0\s+2026-11-29T08:00:00.000Z\s+2h 1m\s+STALLED$/m);
    expect(text).not.toMatch(/^binance\s+funding_rates/m);
    expect(renderReport(statsReport({}))).toContain('no exchange has rows yet');
  });
});

describe('names from the database in the table output (issue 22, point 11)', () => {
  it('shows ESC, OSC, CR, BEL, C1 controls and bidirectional overrides as visible escapes, and keeps the columns aligned', () => {
    const exchanges = {
      'evil\u001b]0;title\u0007\rbinance': { tickers: fresh(), orderbooks: none, trades: none, funding_rates: none },
      'c1\u009b2J\u202e': { tickers: fresh(), orderbooks: none, trades: none, funding_rates: none },
    };
    const recent_ingest = [
      { table: 'tickers' as const, symbol: 'BTC\u001b[2J\\', rows_last_hour: 3, latest_ts: '2026-11-29T10:01:00.000Z' },
    ];
    const text = renderReport(statsReport({}, { exchanges, recent_ingest, database: { ...statsReport({}).database, name: 'db\u001bc' } }));
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(text.split('\n')[0]).toMatch(/^database db\\x1bc: /);
    expect(text).toMatch(/^evil\\x1b\]0;title\\x07\\x0dbinance {2}tickers {2}1200 /m);
    expect(text).toMatch(/^c1\\x9b2J\\u202e +tickers {2}1200 /m);
    const column = (start: string) =>
      text
        .split('\n')
        .find((line) => line.startsWith(start))
        ?.indexOf('  tickers');
    expect(column('c1')).toBe(column('evil'));
    expect(text).toMatch(/^tickers {2}BTC\\x1b\[2J\\\\ {2}3 /m);
  });
});

describe('prune with an archive', () => {
  it('lists the partitions it kept, each with the reason, under the archive it checked', () => {
    const text = renderReport({
      operation: 'prune',
      database: 'perps',
      dry_run: false,
      delete_before: null,
      drop_before: '2026-06-08T00:00:00.000Z',
      actions: [
        {
          action: 'drop_partition',
          status: 'done',
          table: 'trades',
          relation: 'trades_2026_06_01',
          from: '2026-06-01T00:00:00.000Z',
          to: '2026-06-02T00:00:00.000Z',
          rows: 20,
          rows_exact: true,
        },
        {
          action: 'drop_partition',
          status: 'kept',
          table: 'trades',
          relation: 'trades_2026_06_02',
          from: '2026-06-02T00:00:00.000Z',
          to: '2026-06-03T00:00:00.000Z',
          rows: 20,
          rows_exact: true,
          kept_because: 'not archived',
        },
      ],
      rows_deleted: { trades: 20 },
      partitions_dropped: 1,
      archive: 's3://bucket',
      partitions_kept: 1,
    });
    expect(text).toContain('archive: s3://bucket; partitions kept (archive not verified): 1');
    expect(text).toContain('kept trades_2026_06_02: not archived');
    expect(text).toMatch(/drop partition +trades_2026_06_02 +20 +kept/);
  });

  it('marks a count that includes a catalog estimate with ~ in its row, in the totals and in the first line', () => {
    const plan = (rowsExact: Record<string, boolean>): PrunePlanReport => ({
      operation: 'prune',
      database: 'perps',
      dry_run: true,
      delete_before: null,
      drop_before: null,
      actions: [
        {
          action: 'truncate_tables',
          status: 'planned',
          tables: ['markets', 'trades'],
          rows: { markets: 9, trades: 3_100_412 },
          rows_exact: rowsExact,
        },
      ],
      rows_planned: { markets: 9, trades: 3_100_412 },
      partitions_planned: 0,
      archive: null,
      partitions_kept: 0,
    });
    expect(renderReport(plan({ markets: true, trades: false })).split('\n')).toEqual([
      'prune perps (dry run: nothing was changed; ~ = estimate from the catalog)',
      'action    relation         rows      status',
      'truncate  markets, trades  ~3100421  planned',
      'would remove rows: markets=9 trades=~3100412; partitions to drop: 0',
    ]);
    const exact = renderReport(plan({ markets: true, trades: true }));
    expect(exact.split('\n')[0]).toBe('prune perps (dry run: nothing was changed)');
    expect(exact).toContain('would remove rows: markets=9 trades=3100412;');
  });
});
