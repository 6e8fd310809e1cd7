import { SEEDED_EXCHANGES } from '../../functions/shared/exchanges';
import { FREE_DASHBOARD_METRICS } from '../constructs/dashboard';
import { metricHoursPerDay } from './metric-hours';
import { HOURS_PER_MONTH, PRICES, USAGE_ASSUMPTIONS } from './prices';
import type { StackUsage } from './stack-usage';

/** One line of the bill: what, how many, dollars a month; `group` sums the lines into the totals. */
export interface BillLine {
  group: 'cloudwatch' | 'other' | 'database';
  item: string;
  quantity: string;
  monthly: number;
}

export interface Bill {
  lines: BillLine[];
  /** Everything but the database instance and its storage. */
  overhead: number;
  cloudwatch: number;
  database: number;
  /** Figures the price table lacks (an instance class), named so the reader knows the total is short. */
  unpriced: string[];
}

const DAYS_PER_MONTH = HOURS_PER_MONTH / 24;
/** The least an Aurora Serverless v2 instance that is not paused runs at. */
const AURORA_RUNNING_MIN_ACU = 0.5;
const cents = (value: number) => Math.round(value * 100) / 100;

/** The monthly bill of a stack's usage, with `exchanges` exchanges writing (the seeded seven by default). */
export function billOf(usage: StackUsage, exchanges: readonly string[] = SEEDED_EXCHANGES): Bill {
  const unpriced: string[] = [];
  const lines = [...cloudwatchLines(usage, exchanges), ...otherLines(usage), ...databaseLines(usage, unpriced)].map((line) => ({
    ...line,
    monthly: cents(line.monthly),
  }));
  const sum = (group?: BillLine['group']) =>
    cents(
      lines.filter((line) => (group ? line.group === group : line.group !== 'database')).reduce((total, line) => total + line.monthly, 0),
    );
  return { lines, overhead: sum(), cloudwatch: sum('cloudwatch'), database: sum('database'), unpriced };
}

function cloudwatchLines(usage: StackUsage, exchanges: readonly string[]): BillLine[] {
  const stats = {
    exchanges,
    storageLimit: usage.statsEnvironment.DB_STORAGE_LIMIT_BYTES !== undefined,
    options: { dataAge: usage.statsEnvironment.STATS_DATA_AGE_METRICS !== 'false' },
  };
  const hours = metricHoursPerDay(usage.schedules, stats);
  const metricLine = (item: string, keep: (metric: string, hoursPerDay: number) => boolean): BillLine => {
    const chosen = [...hours].filter(([metric, perDay]) => perDay > 0 && keep(metric, perDay));
    const metricMonths = chosen.reduce((sum, [, perDay]) => sum + perDay / 24, 0);
    const quantity = `${chosen.length} metrics, ${cents(metricMonths)} metric-months`;
    return { group: 'cloudwatch', item, quantity, monthly: metricMonths * PRICES.cloudwatch.metricMonth };
  };
  const fromStats = (metric: string) => !metric.includes('Operation=') || metric.includes('Operation=stats');
  const { alarms } = usage;
  const dashboardsBilled = usage.dashboards.filter((metrics) => metrics > FREE_DASHBOARD_METRICS).length;
  return [
    metricLine(`custom metrics: stats every run, ${exchanges.length} exchanges`, (m, perDay) => fromStats(m) && perDay === 24),
    metricLine('custom metrics: stats sizes, every 6 hours', (m, perDay) => fromStats(m) && perDay < 24),
    metricLine('custom metrics: the other functions (Success, counts not 0)', (m) => !fromStats(m)),
    {
      group: 'cloudwatch',
      item: 'alarms',
      quantity: `${alarms.count} alarms, ${alarms.metrics + alarms.highResolutionMetrics} metrics, ${alarms.composite} composite`,
      monthly:
        alarms.metrics * PRICES.cloudwatch.alarmMetricMonth +
        alarms.highResolutionMetrics * PRICES.cloudwatch.highResolutionAlarmMetricMonth +
        alarms.composite * PRICES.cloudwatch.compositeAlarmMonth,
    },
    {
      group: 'cloudwatch',
      item: `dashboards (free up to ${FREE_DASHBOARD_METRICS} metrics, 3 an account)`,
      quantity: `${usage.dashboards.length}: ${usage.dashboards.join(', ')} metrics`,
      monthly: dashboardsBilled * PRICES.cloudwatch.dashboardMonth,
    },
    logLine(usage),
  ];
}

/** Log ingestion, and storage of a month of it (the log groups keep 30 days), estimated per invocation. */
function logLine(usage: StackUsage): BillLine {
  const { stats, other } = USAGE_ASSUMPTIONS.logBytesPerInvocation;
  const bytes = usage.schedules.reduce((sum, s) => sum + s.times.length * DAYS_PER_MONTH * (s.operation === 'stats' ? stats : other), 0);
  const gb = bytes / 1024 ** 3;
  return {
    group: 'cloudwatch',
    item: 'logs: ingestion and 30 days kept (estimate)',
    quantity: `${cents(gb)} GB a month`,
    monthly: gb * (PRICES.cloudwatch.logIngestionGb + PRICES.cloudwatch.logStorageGbMonth),
  };
}

function otherLines(usage: StackUsage): BillLine[] {
  const invocations = usage.schedules.reduce((sum, s) => sum + s.times.length * DAYS_PER_MONTH, 0);
  const zones = usage.interfaceEndpointZones.reduce((sum, n) => sum + n, 0);
  return [
    {
      group: 'other',
      item: 'Secrets Manager interface endpoint',
      quantity: `${usage.interfaceEndpointZones.length} endpoints, ${zones} zones`,
      monthly: zones * HOURS_PER_MONTH * PRICES.interfaceEndpointZoneHour,
    },
    { group: 'other', item: 'secrets', quantity: `${usage.secrets}`, monthly: usage.secrets * PRICES.secretsManager.secretMonth },
    {
      group: 'other',
      item: 'Secrets Manager API calls (estimate)',
      quantity: `${Math.round(invocations * USAGE_ASSUMPTIONS.secretCallsPerInvocation)} a month`,
      monthly: ((invocations * USAGE_ASSUMPTIONS.secretCallsPerInvocation) / 10_000) * PRICES.secretsManager.per10kCalls,
    },
    { group: 'other', item: 'KMS keys', quantity: `${usage.kmsKeys}`, monthly: usage.kmsKeys * PRICES.kmsKeyMonth },
    lambdaLine(usage, invocations),
    {
      group: 'other',
      item: 'EventBridge Scheduler invocations',
      quantity: `${Math.round(invocations)} a month`,
      monthly: (invocations / 1e6) * PRICES.schedulerPerMillionInvocations,
    },
  ];
}

function lambdaLine(usage: StackUsage, invocations: number): BillLine {
  const seconds = USAGE_ASSUMPTIONS.secondsPerRun as Record<string, number>;
  const gbSeconds = usage.schedules.reduce((sum, s) => {
    const memoryGb = (usage.functionMemoryMb[s.operation] ?? 128) / 1024;
    return sum + s.times.length * DAYS_PER_MONTH * (seconds[s.operation] ?? seconds.other ?? 0) * memoryGb;
  }, 0);
  return {
    group: 'other',
    item: 'Lambda, scheduled runs (estimate)',
    quantity: `${Math.round(gbSeconds)} GB-s, ${Math.round(invocations)} requests`,
    monthly: gbSeconds * PRICES.lambda.arm64GbSecond + (invocations / 1e6) * PRICES.lambda.perMillionRequests,
  };
}

function databaseLines(usage: StackUsage, unpriced: string[]): BillLine[] {
  const { database } = usage;
  if (database.kind === 'none') return [];
  if (database.kind === 'aurora') {
    // At 0 it would pause after 5 idle minutes at least, but stats connects every 5 minutes (and an
    // ingester all the time): it runs, at 0.5 ACU or more.
    const running = Math.max(database.minAcu, AURORA_RUNNING_MIN_ACU);
    const item =
      database.minAcu < running
        ? 'Aurora Serverless v2, never paused: stats connects every 5 minutes'
        : 'Aurora Serverless v2 at its minimum capacity';
    return [
      {
        group: 'database',
        item: `${item} (storage and I/O by use: $${PRICES.aurora.storageGbMonth}/GB-month, $${PRICES.aurora.perMillionIo}/million I/O)`,
        quantity: `${running} ACU (minimum ${database.minAcu}, maximum ${database.maxAcu})`,
        monthly: running * HOURS_PER_MONTH * PRICES.aurora.acuHour,
      },
    ];
  }
  const copies = database.multiAz ? 2 : 1;
  const hourly = PRICES.rds.instanceHour[database.instanceClass];
  if (hourly === undefined) unpriced.push(`${database.instanceClass}: add its hourly price to infra/cost/prices.ts`);
  const storage = PRICES.rds.storageGbMonth[database.storageType] ?? 0;
  return [
    {
      group: 'database',
      item: `RDS instance${database.multiAz ? ', Multi-AZ' : ''}`,
      quantity: database.instanceClass,
      monthly: (hourly ?? 0) * HOURS_PER_MONTH * copies,
    },
    {
      group: 'database',
      item: 'RDS storage (allocated; autoscaling adds more as it fills)',
      quantity: `${database.storageGb} GiB ${database.storageType}`,
      monthly: database.storageGb * storage * copies,
    },
  ];
}
