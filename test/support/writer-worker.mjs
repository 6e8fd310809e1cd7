// An ingestion writer in its own thread, so maintenance work in the main thread cannot delay its
// clock: INSERTs of `batch` rows through the parent tables, back to back, round-robin over the
// four time-series tables and over `symbols`, each symbol with its own offset of ts from now()
// (rows for now, early rows for days with no partition yet, late rows for past days). It counts
// the rows that committed per table and symbol, and times every insert.
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';

const { url, batch, symbols, applicationName } = workerData;
const STATEMENTS = {
  tickers:
    'INSERT INTO tickers (exchange_id, symbol, ts, last_price) SELECT 1, $1, now() + $2::interval, 100 + g FROM generate_series(1, $3) g',
  orderbooks:
    'INSERT INTO orderbooks (exchange_id, symbol, ts, spread_bps) SELECT 2, $1, now() + $2::interval, g FROM generate_series(1, $3) g',
  trades:
    'INSERT INTO trades (exchange_id, symbol, ts, price, size) SELECT 3, $1, now() + $2::interval, 100, g FROM generate_series(1, $3) g',
  funding_rates:
    'INSERT INTO funding_rates (exchange_id, symbol, ts, rate) SELECT 4, $1, now() + $2::interval, 0.0001 FROM generate_series(1, $3) g',
};
const tables = Object.keys(STATEMENTS);
const client = new pg.Client({ connectionString: url, application_name: applicationName });
await client.connect();
// Each sample: when the insert started (wall-clock ms, comparable across threads) and how long it took.
const samples = [];
const inserted = {};
const errors = new Set();
let failed = 0;
let stop = false;
parentPort.on('message', () => {
  stop = true;
});
for (let n = 0; !stop; n += 1) {
  const table = tables[n % tables.length];
  const [symbol, offset] = symbols[Math.floor(n / tables.length) % symbols.length];
  const started = performance.now();
  try {
    await client.query(STATEMENTS[table], [symbol, offset, batch]);
    samples.push({ at: performance.timeOrigin + started, ms: performance.now() - started });
    // The first commit tells the parent the writer is writing (a loaded machine can take seconds to get here).
    if (samples.length === 1) parentPort.postMessage({ ready: true });
    const key = `${table}/${symbol}`;
    inserted[key] = (inserted[key] ?? 0) + batch;
  } catch (error) {
    failed += 1;
    errors.add(error.message);
  }
}
await client.end();
parentPort.postMessage({ result: { samples, inserted, failed, errors: [...errors] } });
