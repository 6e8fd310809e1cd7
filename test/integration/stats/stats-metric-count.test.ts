import { beforeAll, describe, expect, it } from 'vitest';
import { localLambdaContext } from '../../../functions/cli/lambda-context';
import { LocalMetrics } from '../../../functions/cli/metrics';
import { createOperationHandler } from '../../../functions/lambda/operation-handler';
import { OPERATIONS } from '../../../functions/operations/registry';
import { SEEDED_EXCHANGES } from '../../../functions/shared/exchanges';
import type { Logger } from '../../../functions/shared/log';
import { TIME_SERIES_TABLES } from '../../../functions/shared/tables';
import { statsMetricKeys } from '../../../infra/cost/metric-hours';
import { PRICES, USAGE_ASSUMPTIONS } from '../../../infra/cost/prices';
import { createTestDatabase, initDatabase, withClient, withContext } from '../../support/database';
import { type EmfDocument, metricsOf } from '../../support/handlers';

// What CloudWatch bills is the metrics a stats run publishes: counted here from the EMF documents
// of real runs over the seven seeded exchanges, each with rows in every time-series table and a
// closed day behind it, in an hour without the size metrics and in one with them.

const REGULAR = new Date('2026-09-02T10:30:00Z');
const SIZES = new Date('2026-09-02T12:05:00Z');
const LIMIT = String(500 * 1024 ** 3);
const COLUMNS: Record<(typeof TIME_SERIES_TABLES)[number], string> = {
  tickers: 'last_price',
  orderbooks: 'spread_bps',
  trades: 'price, size',
  funding_rates: 'rate',
};

let url: string;

beforeAll(async () => {
  url = await createTestDatabase();
  // Partitions from two days back, so yesterday is a closed day with rows: growth is known.
  await withContext(url, { now: new Date(REGULAR.getTime() - 2 * 86_400_000) }, (ctx) => initDatabase(ctx, { daysAhead: 10 }));
  await withClient(url, async (client) => {
    const instants = [REGULAR.getTime() - 86_400_000, REGULAR.getTime() - 3_600_000, REGULAR.getTime() - 60_000].map((ms) =>
      new Date(ms).toISOString(),
    );
    for (const table of TIME_SERIES_TABLES) {
      await client.query(
        `INSERT INTO ${table} (exchange_id, symbol, ts, ${COLUMNS[table]})
         SELECT e.id, 'BTC-PERP', t, ${COLUMNS[table].replace(/\w+/g, '1')} FROM exchanges e, unnest($1::timestamptz[]) t`,
        [instants],
      );
    }
  });
});

/** One stats invocation through the Lambda handler chain at `now`: its EMF documents and the bytes it would log. */
async function statsRun(now: Date, env: Record<string, string> = {}): Promise<{ emf: EmfDocument[]; logBytes: number }> {
  const documents: string[] = [];
  const lines: string[] = [];
  const record = (message: string, fields?: Record<string, unknown>) => lines.push(JSON.stringify({ message, ...fields }));
  const log: Logger = { debug() {}, info: record, warn: record, error: record };
  const handler = createOperationHandler(OPERATIONS.stats, {
    env: { DATABASE_URL: url, DB_STORAGE_LIMIT_BYTES: LIMIT, ...env },
    metrics: new LocalMetrics((emf) => documents.push(emf)),
    log,
    now: () => now,
  });
  try {
    await handler({}, localLambdaContext('perps-stats-db-stats'));
  } finally {
    await handler.close();
  }
  // Lambda's START, END and REPORT lines and Powertools' own keys on each line: 1,000 bytes is more than they take.
  const logBytes = [...documents, ...lines].reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 1_000);
  return { emf: documents.map((text) => JSON.parse(text) as EmfDocument), logBytes };
}

const shape = { exchanges: SEEDED_EXCHANGES, storageLimit: true, options: { dataAge: true } };

describe('a stats run over seven exchanges', () => {
  it('publishes 13 metrics outside the size hours, exactly those `npm run cost` prices', async () => {
    const run = await statsRun(REGULAR);
    const published = [...metricsOf(run.emf).keys()].sort();
    expect(published).toHaveLength(13);
    expect(published).toEqual([...statsMetricKeys(shape, REGULAR)].sort());
    expect(published.filter((key) => key.startsWith('ExchangeDataAgeSeconds'))).toHaveLength(SEEDED_EXCHANGES.length);
    expect(run.logBytes).toBeLessThanOrEqual(USAGE_ASSUMPTIONS.logBytesPerInvocation.stats);
  });

  it('adds 16 size metrics in the first minutes of every 6th hour, again exactly those priced', async () => {
    const run = await statsRun(SIZES);
    const published = [...metricsOf(run.emf).keys()].sort();
    expect(published).toHaveLength(13 + 16);
    expect(published).toEqual([...statsMetricKeys(shape, SIZES)].sort());
    expect(published).toContain('StorageRunwayDays{service=perps-stats-db}');
    expect(published.filter((key) => key.startsWith('GrowthBytesPerDay'))).toHaveLength(TIME_SERIES_TABLES.length);
    expect(run.logBytes).toBeLessThanOrEqual(USAGE_ASSUMPTIONS.logBytesPerInvocation.stats);
    // Billed per hour with data: 13 metrics every hour, 16 in 4 hours of 24.
    const monthly = (13 + (16 * 4) / 24) * PRICES.cloudwatch.metricMonth;
    expect(monthly).toBeCloseTo(4.7, 5);
  });

  it('publishes no data age with STATS_DATA_AGE_METRICS=false (the stack sets it with dataAgeAlarmSeconds=off)', async () => {
    const run = await statsRun(REGULAR, { STATS_DATA_AGE_METRICS: 'false' });
    const published = [...metricsOf(run.emf).keys()].sort();
    expect(published).toEqual([...statsMetricKeys({ ...shape, options: { dataAge: false } }, REGULAR)].sort());
    expect(published).toHaveLength(13 - 1 - SEEDED_EXCHANGES.length);
  });
});
