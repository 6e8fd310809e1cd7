// An ingestion writer in its own thread (maintenance in the main thread cannot delay its clock):
// single-row INSERTs through the parent tables, round-robin over the four time-series tables and
// over kinds of rows (today, early for days with no partition yet, late for past days), each
// kind under its own symbol so the rows that arrived can be counted exactly.
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';

const { url, kinds } = workerData;
const STATEMENTS = {
  tickers: 'INSERT INTO tickers (exchange_id, symbol, ts, last_price) VALUES (1, $1, now() + $2::interval, 100)',
  orderbooks: 'INSERT INTO orderbooks (exchange_id, symbol, ts, spread_bps) VALUES (2, $1, now() + $2::interval, 1.5)',
  trades: 'INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (3, $1, now() + $2::interval, 100, 1)',
  funding_rates: 'INSERT INTO funding_rates (exchange_id, symbol, ts, rate) VALUES (4, $1, now() + $2::interval, 0.0001)',
};
const tables = Object.keys(STATEMENTS);
const client = new pg.Client({ connectionString: url, application_name: 'test-ingest-writer' });
await client.connect();
const inserted = {};
const latencies = [];
const errors = new Set();
let failed = 0;
let stop = false;
parentPort.on('message', () => {
  stop = true;
});
for (let n = 0; !stop; n += 1) {
  const table = tables[n % tables.length];
  const [kind, offset] = kinds[Math.floor(n / tables.length) % kinds.length];
  const started = performance.now();
  try {
    await client.query(STATEMENTS[table], [`ING-${kind}`, offset]);
    const key = `${table}/${kind}`;
    inserted[key] = (inserted[key] ?? 0) + 1;
  } catch (error) {
    failed += 1;
    errors.add(error.message);
  }
  latencies.push(performance.now() - started);
}
await client.end();
parentPort.postMessage({ inserted, latencies, failed, errors: [...errors] });
