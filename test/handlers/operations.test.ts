import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsReport, TimeSeriesTableStats } from '../../functions/operations/stats/stats';
import { publishesSizeMetrics } from '../../functions/shared/metric-names';
import { ALL_TABLES, TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { connect, createTestDatabase, databaseState, holdInTransaction, holdMaintenanceLock } from '../support/database';
import { type BundledHandler, expectLostConnectionLogs, type Invocation, invoke, loadHandler, metricsOf } from '../support/handlers';

const SERVICE = 'service=perps-stats-db';
let url: string;
const opened: BundledHandler[] = [];

async function handlerFor(operation: 'migrate' | 'partitions' | 'prune' | 'stats' | 'vacuum', env: Record<string, string> = {}) {
  const handler = await loadHandler(operation, { DATABASE_URL: url, ...env });
  opened.push(handler);
  return handler;
}

/** The log lines of an invocation with a given message. */
const logsNamed = (invocation: Invocation, message: string) => invocation.logs.filter((line) => line.message === message);

beforeAll(async () => {
  url = await createTestDatabase();
});

afterAll(async () => {
  for (const handler of opened) await handler.close();
});

describe('handlers as bundled, on a real PostgreSQL', () => {
  it('migrate on its scheduled input applies the migrations, logs once and publishes its outcome', async () => {
    const migrate = await handlerFor('migrate', { AWS_LAMBDA_FUNCTION_NAME: 'perps-migrate' });
    const run = await invoke(migrate, {}, 'perps-migrate');
    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ operation: 'migrate', applied: 8 });
    const finished = logsNamed(run, 'migrate finished');
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ level: 'INFO', service: 'perps-stats-db', operation: 'migrate', function_name: 'perps-migrate' });
    expect(finished[0]?.function_request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(finished[0]?.report).toEqual(run.result);
    const metrics = metricsOf(run.emf);
    expect(metrics.get(`Success{${SERVICE},Operation=migrate}`)).toEqual({ value: 1, unit: 'Count', namespace: 'PerpsStats' });
    // Only what happened: a 0 would be billed for its hour like any other value.
    expect(metrics.get(`Failure{${SERVICE},Operation=migrate}`)).toBeUndefined();
    expect(metrics.get(`Duration{${SERVICE},Operation=migrate}`)).toBeUndefined();
    expect(metrics.get(`MigrationsApplied{${SERVICE},Operation=migrate}`)).toMatchObject({ value: 8, unit: 'Count' });

    const again = await invoke(migrate, { version: '0', 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} });
    expect(again.result).toMatchObject({ applied: 0 });
  });

  it('partitions takes daysAhead from the payload, else from PARTITIONS_DAYS_AHEAD, and reports moved rows', async () => {
    const partitions = await handlerFor('partitions', { PARTITIONS_DAYS_AHEAD: '4' });
    const scheduled = await invoke(partitions, {});
    expect(scheduled.result).toMatchObject({ operation: 'partitions', days_ahead: 4 });
    const created = scheduled.result?.partitions_created as number;
    expect(created).toBe(TIME_SERIES_TABLES.length * 4); // today and the next 3 days
    expect(metricsOf(scheduled.emf).get(`PartitionsCreated{${SERVICE},Operation=partitions}`)).toMatchObject({
      value: created,
      unit: 'Count',
    });

    // An early row (day +10 has no partition) sits in the default until a run covers its day.
    const client = await connect(url);
    await client.query(`INSERT INTO tickers (exchange_id, symbol, ts) VALUES (1, 'BTC', now() + interval '10 days')`);
    const manual = await invoke(partitions, { daysAhead: 12 });
    expect(manual.result).toMatchObject({ days_ahead: 12, rows_moved: 1 });
    const metrics = metricsOf(manual.emf);
    expect(metrics.get(`RowsMoved{${SERVICE},Operation=partitions}`)).toMatchObject({ value: 1, unit: 'Count' });
    expect(metrics.get(`PartitionsCreated{${SERVICE},Operation=partitions}`)?.value).toBe(manual.result?.partitions_created);

    const ruleEvent = await invoke(partitions, {
      version: '0',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      detail: { daysAhead: 5 },
    });
    expect(ruleEvent.result).toMatchObject({ days_ahead: 5, partitions_created: 0 });
  });

  it('stats publishes each concern once every run, sizes per table in the size hours, age per exchange, no per-symbol dimension', async () => {
    const client = await connect(url);
    await client.query(
      // Ten minutes ago, but never before today's UTC midnight: in a day's first minutes, yesterday may have no partition.
      `INSERT INTO tickers (exchange_id, symbol, ts)
       SELECT 1, s, greatest(now() - interval '10 minutes' - g * interval '1 second', (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') + g * interval '1 microsecond')
         FROM unnest(ARRAY['BTC', 'ETH']) s, generate_series(1, 3) g`,
    );
    const stats = await handlerFor('stats', { METRICS_NAMESPACE: 'PerpsStatsTest' });
    const run = await invoke(stats, { symbols: true });
    expect(run.error).toBeUndefined();
    const report = run.result as unknown as StatsReport;
    const metrics = metricsOf(run.emf);
    expect([...new Set([...metrics.values()].map((m) => m.namespace))]).toEqual(['PerpsStatsTest']);
    const series = TIME_SERIES_TABLES.map((table) => report.tables[table] as TimeSeriesTableStats);
    const tickers = report.tables.tickers as TimeSeriesTableStats;
    const database = [...metrics.entries()].filter(([name]) => name.endsWith(`{${SERVICE}}`));
    const sized = publishesSizeMetrics(new Date(report.fetched_at));
    expect(Object.fromEntries(database.map(([name, metric]) => [name.replace(/\{.*/, ''), [metric.value, metric.unit]]))).toEqual({
      DatabaseSizeBytes: [report.database.size_bytes, 'Bytes'],
      BacklogRows: [0, 'Count'],
      DefaultPartitionRows: [0, 'Count'],
      PartitionRunwayDays: [Math.min(...series.map((t) => t.runway_days)), 'Count'],
      // Only tickers has rows: the stalest table with an age is tickers.
      DataAgeSeconds: [tickers.data_age_seconds, 'Seconds'],
    });
    expect(report.database.storage_runway_days).toBeNull();
    for (const table of ALL_TABLES) {
      const at = (name: string) => metrics.get(`${name}{${SERVICE},Table=${table}}`);
      expect(at('TotalBytes')).toEqual(
        sized ? { value: report.tables[table].total_bytes, unit: 'Bytes', namespace: 'PerpsStatsTest' } : undefined,
      );
      const rows =
        (TIME_SERIES_TABLES as readonly string[]).includes(table) && sized
          ? { value: table === 'tickers' ? 6 : 0, unit: 'Count' }
          : undefined;
      expect(at('RowsLastHour')).toEqual(rows && { ...rows, namespace: 'PerpsStatsTest' });
      for (const gone of ['RowCount', 'TableBytes', 'IndexBytes', 'PartitionRunwayDays', 'DefaultPartitionRows', 'DataAgeSeconds']) {
        expect(at(gone), gone).toBeUndefined();
      }
    }
    expect(tickers.runway_days).toBeGreaterThan(0);
    // Per exchange, only where it has rows: binance, its freshest table's age.
    const exchangeAges = [...metrics.entries()].filter(([name]) => name.startsWith('ExchangeDataAgeSeconds'));
    expect(exchangeAges).toEqual([
      [
        `ExchangeDataAgeSeconds{${SERVICE},Exchange=binance}`,
        { value: report.exchanges.binance?.tickers.data_age_seconds, unit: 'Seconds', namespace: 'PerpsStatsTest' },
      ],
    ]);
    const dimensionNames = new Set(run.emf.flatMap((doc) => doc._aws.CloudWatchMetrics.flatMap((d) => d.Dimensions.flat())));
    expect([...dimensionNames].sort()).toEqual(['Exchange', 'Operation', ...(sized ? ['Table'] : []), 'service'].sort());
    // Per-symbol detail is in the log line instead.
    const finished = logsNamed(run, 'stats finished')[0] as { report: { recent_ingest: { symbol: string; rows_last_hour: number }[] } };
    expect(finished.report.recent_ingest.map((r) => [r.symbol, r.rows_last_hour]).sort()).toEqual([
      ['BTC', 3],
      ['ETH', 3],
    ]);
  });

  it('prune previews on a manual dry run, then applies the retention from the environment on a scheduled run', async () => {
    const client = await connect(url);
    await client.query(`INSERT INTO funding_rates (exchange_id, symbol, ts, rate) VALUES (1, 'BTC', now() - interval '40 days', 0.0001)`);
    const partitions = await handlerFor('partitions');
    await invoke(partitions, {}); // the 40-day-old row gets its own partition
    const prune = await handlerFor('prune', { PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS: '30' });

    const before = await databaseState(url);
    const preview = await invoke(prune, { dryRun: true });
    expect(preview.result).toMatchObject({ dry_run: true, partitions_planned: 1 }); // what the real run would drop
    expect(((preview.result?.actions ?? []) as { action: string; status: string }[]).map((a) => [a.action, a.status])).toEqual([
      ['drop_partition', 'planned'],
    ]);
    expect(metricsOf(preview.emf).get(`PartitionsDropped{${SERVICE},Operation=prune}`)).toBeUndefined();
    expect(await databaseState(url)).toEqual(before);

    const scheduled = await invoke(prune, {});
    expect(scheduled.result).toMatchObject({ dry_run: false, partitions_dropped: 1, rows_deleted: { funding_rates: 1 } });
    const metrics = metricsOf(scheduled.emf);
    expect(metrics.get(`PartitionsDropped{${SERVICE},Operation=prune}`)).toMatchObject({ value: 1, unit: 'Count' });
    expect(metrics.get(`RowsDeleted{${SERVICE},Operation=prune}`)).toMatchObject({ value: 1, unit: 'Count' });

    // A manual payload naming an action means exactly that: the environment's drop does not join it.
    const manual = await invoke(prune, { olderThanDays: 365, dryRun: true });
    expect(manual.result).toMatchObject({ drop_before: null });
  });

  it('vacuum lists its steps on a dry run, then seals the closed partitions and publishes what it did', async () => {
    const client = await connect(url);
    await client.query(`INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (1, 'BTC', now() - interval '3 days', 1, 1)`);
    await client.end();
    await invoke(await handlerFor('partitions'), {}); // the row gets its day partition
    const vacuum = await handlerFor('vacuum');

    const preview = await invoke(vacuum, { dryRun: true });
    const planned = (preview.result?.steps ?? []) as { action: string; relation: string; status: string }[];
    expect(planned.filter((step) => step.action === 'seal').length).toBeGreaterThan(0);
    expect(planned.every((step) => step.status === 'planned')).toBe(true);
    expect(metricsOf(preview.emf).get(`PartitionsSealed{${SERVICE},Operation=vacuum}`)).toBeUndefined();

    const run = await invoke(vacuum, {});
    const seals = planned.filter((step) => step.action === 'seal').length;
    expect(run.result).toMatchObject({ dry_run: false, partitions_sealed: seals, tables_analyzed: planned.length - seals });
    const metrics = metricsOf(run.emf);
    expect(metrics.get(`PartitionsSealed{${SERVICE},Operation=vacuum}`)).toMatchObject({ value: seals, unit: 'Count' });
    expect(metrics.get(`TablesAnalyzed{${SERVICE},Operation=vacuum}`)).toMatchObject({ value: planned.length - seals, unit: 'Count' });
    expect(metrics.get(`Success{${SERVICE},Operation=vacuum}`)).toMatchObject({ value: 1 });
  });

  it('a run that finds the lock taken fails with LockBusyError, logged once, Failure published', async () => {
    const partitions = await handlerFor('partitions');
    const lock = await holdMaintenanceLock(url);
    const run = await invoke(partitions, {}).finally(() => lock.release());
    expect(run.error?.name).toBe('LockBusyError');
    expect(run.error?.retryable).toBe(true);
    const failed = logsNamed(run, 'partitions failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 'ERROR', error: { name: 'LockBusyError', retryable: true } });
    const metrics = metricsOf(run.emf);
    expect(metrics.get(`Failure{${SERVICE},Operation=partitions}`)?.value).toBe(1);
    expect(metrics.get(`Success{${SERVICE},Operation=partitions}`)).toBeUndefined();
  });

  it('a partial failure throws with the report so far, which the failure log carries', async () => {
    const partitions = await handlerFor('partitions', { DB_LOCK_TIMEOUT_MS: '100', DB_DDL_ATTEMPTS: '1' });
    const blocker = await holdInTransaction(url, 'LOCK TABLE ONLY tickers IN ACCESS EXCLUSIVE MODE');
    const run = await invoke(partitions, { daysAhead: 20 }).finally(() => blocker.release());
    expect(run.error?.name).toBe('PartialFailureError');
    const report = run.error?.report as { partitions_created: number; tables: { table: string; status: string }[] };
    expect(report.tables.map((t) => [t.table, t.status])).toEqual([
      ['tickers', 'failed'],
      ['orderbooks', 'ok'],
      ['trades', 'ok'],
      ['funding_rates', 'ok'],
    ]);
    const failed = logsNamed(run, 'partitions failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.report).toEqual(report);
    expect(metricsOf(run.emf).get(`PartitionsCreated{${SERVICE},Operation=partitions}`)?.value).toBe(report.partitions_created);
    expect(report.partitions_created).toBeGreaterThan(0);
  });

  it('keeps one connection across warm invocations and replaces one the server terminated', async () => {
    const name = 'perps-stats-warm';
    const stats = await handlerFor('stats', { AWS_LAMBDA_FUNCTION_NAME: name });
    const admin = await connect(url);
    const sessions = async () =>
      (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [name])).rows.map((r) => r.pid);
    expect(await sessions()).toEqual([]); // importing opened nothing
    await invoke(stats, {});
    const [first] = await sessions();
    expect(first).toBeDefined();
    await invoke(stats, {});
    expect(await sessions()).toEqual([first]);
    await expectLostConnectionLogs(async () => (await admin.query('SELECT pg_terminate_backend($1)', [first])).rowCount ?? 0);
    const afterBreak = await invoke(stats, {});
    expect(afterBreak.error).toBeUndefined();
    const replaced = await sessions();
    expect(replaced).toHaveLength(1);
    expect(replaced[0]).not.toBe(first);
  });
});

// Each rejected payload and environment, with its exact message, is a row of docs/rejected-input.md's
// "Rejected input" table, run through these bundles by test/integration/bad-input.test.ts.
describe('bad environment', () => {
  it('fails every invocation with each bad variable named, before connecting', async () => {
    const name = 'perps-bad-env';
    const stats = await handlerFor('stats', { AWS_LAMBDA_FUNCTION_NAME: name, DB_SSL: 'sometimes', PARTITIONS_DAYS_AHEAD: '0' });
    for (const attempt of [1, 2]) {
      const run = await invoke(stats, {});
      expect(run.error?.name, `attempt ${attempt}`).toBe('InputError');
      expect(run.error?.message).toBe(
        'DB_SSL: must be one of disable, require, verify-full; PARTITIONS_DAYS_AHEAD: must be a whole number of days from 1 to 366',
      );
    }
    const admin = new pg.Client(url);
    await admin.connect();
    const { rows } = await admin.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [name]);
    await admin.end();
    expect(rows).toEqual([]);
  });
});
