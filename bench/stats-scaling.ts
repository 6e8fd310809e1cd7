/**
 * Stats cost against data size, measured in one run on one real server: our `stats` versus the
 * naive exact count(*) and min/max(ts) per table, at ~10k, ~100k and ~1M rows (or BENCH_ROWS=a,b,...).
 * Prints a markdown table of medians (min..max) and the ratio to the smallest scale.
 */
import pg from 'pg';
import { createPool } from '../functions/core/db/pool';
import { DEFAULT_CONNECTION_SETTINGS, DEFAULT_MAINTENANCE_SETTINGS } from '../functions/core/db/settings';
import { silentLogger } from '../functions/core/log';
import { migrate } from '../functions/core/migrate';
import { ensurePartitions } from '../functions/core/partitions';
import { collectStats } from '../functions/core/stats';
import { TIME_SERIES_TABLES } from '../functions/core/tables';
import { startTestServer } from '../test/support/server';

const scales = (process.env.BENCH_ROWS ?? '1e4,1e5,1e6').split(',').map(Number);
const RUNS = 7;
const server = process.env.BENCH_DATABASE_URL ? { url: process.env.BENCH_DATABASE_URL, stop: async () => {} } : await startTestServer();
const admin = new pg.Client(server.url);
await admin.connect();

const results: { rows: number; ours: number[]; naive: number[] }[] = [];
for (const rows of scales) {
  const name = `bench_stats_${rows}`;
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  const pool = createPool({ ...DEFAULT_CONNECTION_SETTINGS, url: url.toString(), poolMin: 0 }, silentLogger);
  const ctx = { pool, log: silentLogger, now: () => new Date(), settings: { ...DEFAULT_MAINTENANCE_SETTINGS, batchSize: 50_000 } };
  await migrate(ctx);
  const perTable = Math.round(rows / TIME_SERIES_TABLES.length);
  // 50 symbols over 7 exchanges, spread evenly over the last 30 days, in ts order.
  for (const table of TIME_SERIES_TABLES) {
    const extra = { tickers: ', last_price', orderbooks: ', spread_bps', trades: ', price, size', funding_rates: ', rate' }[table];
    const values = {
      tickers: ', 100 + random()',
      orderbooks: ', random()',
      trades: ', 100 + random(), random()',
      funding_rates: ', 0.0001',
    }[table];
    await pool.query(
      `INSERT INTO ${table} (exchange_id, symbol, ts${extra})
       SELECT 1 + i % 7, 'SYM' || (i % 50), now() - interval '30 days' * (1 - i::float8 / $1)${values}
         FROM generate_series(1, $1) i`,
      [perTable],
    );
  }
  const moved = performance.now();
  await ensurePartitions(ctx, { daysAhead: 7 });
  console.error(`${rows} rows: partitions emptied the default in ${Math.round(performance.now() - moved)} ms`);
  await pool.query('VACUUM ANALYZE');

  const time = async (fn: () => Promise<unknown>) => {
    const samples: number[] = [];
    await fn(); // warm the cache: compare steady states
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now();
      await fn();
      samples.push(performance.now() - started);
    }
    return samples.sort((a, b) => a - b);
  };
  const ours = await time(() => collectStats(ctx));
  const naive = await time(async () => {
    for (const table of TIME_SERIES_TABLES) await pool.query(`SELECT count(*), min(ts), max(ts) FROM ${table}`);
  });
  results.push({ rows, ours, naive });
  await pool.end();
  await admin.query(`DROP DATABASE ${name}`);
}
await admin.end();
await server.stop();

const median = (s: number[]) => s[Math.floor(s.length / 2)] ?? 0;
const fmt = (s: number[]) => `${median(s).toFixed(1)} ms (${(s[0] ?? 0).toFixed(1)}..${(s.at(-1) ?? 0).toFixed(1)})`;
const base = results[0];
console.log('| rows | our stats: median (min..max) | ratio | naive count/min/max: median (min..max) | ratio |');
console.log('| ---: | --- | ---: | --- | ---: |');
for (const r of results) {
  const ratio = (a: number[], b: number[] | undefined) => (median(a) / median(b ?? a)).toFixed(2);
  console.log(
    `| ${r.rows.toExponential(0)} | ${fmt(r.ours)} | ${ratio(r.ours, base?.ours)}x | ${fmt(r.naive)} | ${ratio(r.naive, base?.naive)}x |`,
  );
}
