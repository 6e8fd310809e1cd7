import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { archive } from '../../../functions/operations/archive/archive';
import { migrate } from '../../../functions/operations/migrate/migrate';
import { ensurePartitions } from '../../../functions/operations/partitions/partitions';
import { DEFAULT_ARCHIVE_PREFIX } from '../../../functions/shared/archive/layout';
import { TIME_SERIES_TABLES } from '../../../functions/shared/tables';
import { PROJECT_ROOT } from '../../../infra/bundling';
import { ARCHIVE_GLUE_DATABASE } from '../../../infra/constructs/archive';
import { archiveDirectory, withArchive } from '../../support/archive';
import { insertEdgeRows } from '../../support/archive-rows';
import { connect, createTestDatabase, testContext } from '../../support/database';
import { duckDbInMemory } from '../../support/parquet-reader';

/*
 * The Athena queries of docs/deploy.md (its ```athena block), run by DuckDB, the independent
 * Parquet reader, on files the archive operation wrote: no Athena here (no AWS account), so
 * this is the closest check that they parse against the archive's columns and give the right
 * answer. Two translations stand in for Athena: `perps_archive.<table>` becomes the table's
 * Hive-style files with `day` read as a string (as the Glue partition key is), and Trino's
 * json_extract_scalar is DuckDB's json_extract_string. The edge rows sit on a day of the
 * docs' January 2026 range.
 */
const DAY = '2026-01-17';
const NOW = new Date('2026-01-20T12:00:00Z');

/** The statements of the docs' ```athena block, in order. */
function documentedQueries(): string[] {
  const markdown = readFileSync(join(PROJECT_ROOT, 'docs/deploy.md'), 'utf8');
  const block = /^```athena\n([\s\S]*?)^```$/m.exec(markdown)?.[1];
  if (!block) throw new Error('docs/deploy.md has no ```athena block');
  return block
    .split(/;\s*\n/)
    .map((statement) => statement.trim())
    .filter((statement) => statement.replace(/^--.*$/gm, '').trim() !== '');
}

/** A documented Athena query as DuckDB runs it over the archive in `directory`. */
function forDuckDb(query: string, directory: string): string {
  const tables = new RegExp(`\\b${ARCHIVE_GLUE_DATABASE}\\.(${TIME_SERIES_TABLES.join('|')})\\b`, 'g');
  return query
    .replace(tables, (_match, table: string) => {
      const files = join(directory, DEFAULT_ARCHIVE_PREFIX, table, 'day=*', '*.parquet').replaceAll("'", "''");
      return `read_parquet('${files}', hive_partitioning = true, hive_types = {'day': VARCHAR})`;
    })
    .replaceAll('json_extract_scalar(', 'json_extract_string(');
}

let directory: string;
let results: Record<string, unknown>[][];
let postgres: { tradeVolume: string; tickerHours: number };

beforeAll(async () => {
  const url = await createTestDatabase();
  const ctx = testContext(url, { now: NOW });
  await migrate(ctx);
  const client = await connect(url);
  await insertEdgeRows(client, DAY);
  await ensurePartitions(ctx, { daysAhead: 1 });
  directory = archiveDirectory();
  const report = await archive(withArchive(ctx, { directory }), { archiveAfterDays: 2 });
  expect(report.partitions_archived).toBe(TIME_SERIES_TABLES.length);
  const volume = await client.query<{ volume: string }>(
    `SELECT round(sum(size), 18)::text AS volume FROM trades WHERE symbol = 'ETH-PERP'`,
  );
  const hours = await client.query<{ hours: number }>(
    `SELECT count(DISTINCT date_trunc('hour', ts AT TIME ZONE 'UTC'))::int AS hours FROM tickers WHERE symbol = 'BTC-PERP'`,
  );
  postgres = { tradeVolume: String(volume.rows[0]?.volume), tickerHours: Number(hours.rows[0]?.hours) };

  const instance = await duckDbInMemory();
  const duck = await instance.connect();
  try {
    results = [];
    for (const query of documentedQueries()) {
      results.push((await duck.runAndReadAll(forDuckDb(query, directory))).getRowObjectsJson() as Record<string, unknown>[]);
    }
  } finally {
    duck.closeSync();
    instance.closeSync();
  }
});

describe("docs/deploy.md's Athena queries, run by DuckDB on archived files", () => {
  it('has one query per time-series table, each naming its table in the Glue database', () => {
    const queries = documentedQueries();
    expect(queries).toHaveLength(TIME_SERIES_TABLES.length);
    for (const [index, table] of TIME_SERIES_TABLES.entries()) expect(queries[index]).toContain(`FROM ${ARCHIVE_GLUE_DATABASE}.${table}`);
    for (const query of queries) expect(query).toMatch(/WHERE day BETWEEN '\d{4}-\d{2}-\d{2}' AND '\d{4}-\d{2}-\d{2}'/);
  });

  it('tickers: one row per hour of the symbol, as PostgreSQL counts them', () => {
    expect(results[0]).toHaveLength(postgres.tickerHours);
    expect(results[0]?.every((row) => row.symbol === 'BTC-PERP')).toBe(true);
  });

  it('orderbooks: the notionals per symbol, and the JSON path read from the raw book', () => {
    const btc = results[1]?.find((row) => row.symbol === 'BTC-PERP');
    expect(btc).toMatchObject({ day: DAY, bids: 1.1, best_bid_seen: 65000.12345678901 });
  });

  it('trades: the day volume exact as decimal(38,18), equal to PostgreSQL', () => {
    expect(results[2]).toEqual([expect.objectContaining({ day: DAY, symbol: 'ETH-PERP', trades: '1', volume: postgres.tradeVolume })]);
  });

  it('funding_rates: every rate of the symbol, in order', () => {
    expect(results[3]?.map((row) => row.rate)).toEqual(['0.000100000000000000']);
  });
});
