import { OPERATIONS, type OperationCount } from '../../functions/operations/registry';
import type { StatsReport, TableStats, TimeSeriesTableStats } from '../../functions/operations/stats/stats';
import { type MetricsOptions, SERVICE_NAME } from '../../functions/shared/metric-names';
import type { ReportMetrics } from '../../functions/shared/operation-definition';
import { ALL_TABLES, TIME_SERIES_TABLES } from '../../functions/shared/tables';
import type { ScheduleUsage } from './stack-usage';

/**
 * The custom metrics the functions publish and in how many UTC hours of a day each receives
 * data: what CloudWatch bills (a metric costs hours/24 of its monthly price). The stats metrics
 * come from the registry's own `metrics` of a stats report with every value present, at each
 * run of its schedule; the other functions' from their schedules and the counts below.
 */

/** `Name{service=...,Dim=value}`, as the EMF documents name a metric (test/support/handlers.ts metricsOf). */
export type MetricKey = string;

/** What a stats run publishes: every table and exchange with rows, growth, and a storage limit when the stack sets one. */
export interface StatsShape {
  exchanges: readonly string[];
  storageLimit: boolean;
  options: MetricsOptions;
}

/**
 * The counts each scheduled operation publishes when they are not zero, and in how many hours a
 * day they typically are not: `runs` is every hour the operation runs.
 */
const COUNT_HOURS: Record<string, Partial<Record<OperationCount, number | 'runs'>>> = {
  // A new day enters the window once a day; rows reach a DEFAULT partition only by accident.
  partitions: { PartitionsCreated: 1, RowsMoved: 0 },
  prune: { PartitionsDropped: 'runs', PartitionsKept: 'runs', RowsDeleted: 'runs' },
  vacuum: { PartitionsSealed: 'runs', TablesAnalyzed: 'runs' },
  archive: { ArchivedPartitions: 'runs', ArchivedRows: 'runs', ArchivedBytes: 'runs', ArchiveFailures: 0 },
};

/** The metric keys one stats run at `at` publishes: its report's metrics and its Success. */
export function statsMetricKeys(shape: StatsShape, at: Date): Set<MetricKey> {
  const metrics = OPERATIONS.stats.metrics(fullReport(shape, at), shape.options);
  return new Set([...reportKeys(metrics), key('Success', { Operation: 'stats' })]);
}

/** Hours a day each metric receives data, over every scheduled run of every function. */
export function metricHoursPerDay(schedules: ScheduleUsage[], stats: StatsShape): Map<MetricKey, number> {
  const hours = new Map<MetricKey, Set<number>>();
  const mark = (metric: MetricKey, hour: number) => hours.set(metric, (hours.get(metric) ?? new Set()).add(hour));
  for (const schedule of schedules) {
    const runHours = new Set(schedule.times.map(([hour]) => hour));
    if (schedule.operation === 'stats') {
      for (const [hour, minute] of schedule.times) {
        for (const metric of statsMetricKeys(stats, new Date(Date.UTC(2026, 0, 1, hour, minute)))) mark(metric, hour);
      }
      continue;
    }
    for (const hour of runHours) mark(key('Success', { Operation: schedule.operation }), hour);
    for (const [count, often] of Object.entries(COUNT_HOURS[schedule.operation] ?? {})) {
      const countHours = often === 'runs' ? [...runHours] : [...runHours].slice(0, often);
      for (const hour of countHours) mark(key(count, { Operation: schedule.operation }), hour);
    }
  }
  return new Map([...hours].map(([metric, set]) => [metric, set.size]));
}

function key(name: string, dimensions: Record<string, string>): MetricKey {
  const parts = Object.entries({ service: SERVICE_NAME, ...dimensions }).map(([dimension, value]) => `${dimension}=${value}`);
  return `${name}{${parts.join(',')}}`;
}

function reportKeys(metrics: ReportMetrics): MetricKey[] {
  return [
    ...Object.keys(metrics.database ?? {}).map((name) => key(name, {})),
    ...Object.entries(metrics.tables ?? {}).flatMap(([table, values]) => Object.keys(values).map((name) => key(name, { Table: table }))),
    ...Object.entries(metrics.exchanges ?? {}).flatMap(([exchange, values]) =>
      Object.keys(values).map((name) => key(name, { Exchange: exchange })),
    ),
  ];
}

/** A stats report at `at` in which every value a metric could carry is present. */
function fullReport(shape: StatsShape, at: Date): StatsReport {
  const table: TableStats = { row_count: 1, row_count_exact: true, table_bytes: 1, index_bytes: 1, total_bytes: 2 };
  const fresh = { latest_ts: at.toISOString(), data_age_seconds: 1, rows_last_hour: 1, rows_last_hour_exact: true, stalled: false };
  const series: TimeSeriesTableStats = {
    ...table,
    partitions: 7,
    oldest_partition: null,
    newest_partition: null,
    runway_days: 7,
    default_rows: 0,
    backlog_rows: 0,
    backlog_tables: [],
    rows_last_hour: 1,
    rows_last_hour_exact: true,
    latest_ts: at.toISOString(),
    data_age_seconds: 1,
    bytes_per_day: 1,
    rows_per_day: 1,
    growth_days: [],
  };
  const tables = Object.fromEntries(
    ALL_TABLES.map((name) => [name, (TIME_SERIES_TABLES as readonly string[]).includes(name) ? series : table]),
  ) as StatsReport['tables'];
  const perTable = Object.fromEntries(TIME_SERIES_TABLES.map((name) => [name, fresh])) as StatsReport['exchanges'][string];
  return {
    operation: 'stats',
    fetched_at: at.toISOString(),
    database: {
      name: 'perps',
      size_bytes: 1,
      growth_bytes_per_day: 1,
      storage_limit_bytes: shape.storageLimit ? 2 : null,
      storage_runway_days: shape.storageLimit ? 1 : null,
    },
    tables,
    recent_ingest: null,
    exchanges: Object.fromEntries(shape.exchanges.map((name) => [name, perTable])),
    // No job overdue: OverdueJobs is published only while one is, which a healthy stack (the one priced) never has.
    jobs: null,
  };
}
