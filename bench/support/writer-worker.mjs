// An ingestion writer in its own thread, so maintenance work in the main thread cannot delay
// its clock: INSERTs of a batch of rows for "now", round-robin over the four time-series tables,
// back to back, timing each one.
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';

const { url, batch } = workerData;
const client = new pg.Client({ connectionString: url, application_name: 'bench-writer' });
await client.connect();
const statements = [
  `INSERT INTO tickers (exchange_id, symbol, ts, last_price) SELECT 1, 'BTC-PERP', now(), 100 + g FROM generate_series(1, ${batch}) g`,
  `INSERT INTO orderbooks (exchange_id, symbol, ts, spread_bps) SELECT 2, 'ETH-PERP', now(), g FROM generate_series(1, ${batch}) g`,
  `INSERT INTO trades (exchange_id, symbol, ts, price, size) SELECT 3, 'SOL-PERP', now(), 100, g FROM generate_series(1, ${batch}) g`,
  `INSERT INTO funding_rates (exchange_id, symbol, ts, rate) SELECT 4, 'XRP-PERP', now(), 0.0001 FROM generate_series(1, ${batch}) g`,
];
// Each sample: when the insert started (wall-clock ms, comparable across threads) and how long it took.
const samples = [];
let failed = 0;
const errors = new Set();
let stop = false;
parentPort.on('message', () => {
  stop = true;
});
for (let n = 0; !stop; n += 1) {
  const started = performance.now();
  try {
    await client.query(statements[n % statements.length]);
    samples.push({ at: performance.timeOrigin + started, ms: performance.now() - started });
  } catch (error) {
    failed += 1;
    errors.add(error.message);
  }
}
await client.end();
parentPort.postMessage({ samples, failed, errors: [...errors] });
