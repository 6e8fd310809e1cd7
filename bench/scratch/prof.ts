import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { mkdtempSync } from 'node:fs';
import { benchServer, createBenchDatabase } from '../../bench/support/database';
import { loadDayPartition, seedMarkets, SYMBOLS } from '../../bench/support/data';
import { addDays, dayOf, partitionName } from '../../functions/core/days';
import { exportCopySql } from '../../functions/core/archive/export-sql';
import { partitionCheckSql } from '../../functions/core/archive/export-sql';
import { ARCHIVE_COLUMNS } from '../../functions/core/archive/layout';
import { exportPartition } from '../../functions/core/archive/export-partition';
import { createDirectoryStore } from '../../functions/core/archive/dir-store';
(async () => {
const rows = Number(process.argv[2] ?? 1e6);
const server = await benchServer();
const db = await createBenchDatabase(server.url, 'scratch');
await seedMarkets(db.url);
const day = addDays(dayOf(new Date()), -3);
await loadDayPartition(db.url, 'trades', day, rows, SYMBOLS);
const relation = partitionName('trades', day);
const client = new pg.Client(db.url); await client.connect();
await client.query(`VACUUM ANALYZE ${relation}`);
for (let round = 0; round < 2; round++) {
  let t = performance.now();
  const s = client.query(copyTo(`COPY (SELECT * FROM ${relation}) TO STDOUT`));
  let n = 0; for await (const c of s) n += c.length;
  const copyMs = performance.now() - t;
  t = performance.now();
  { const s2 = client.query(copyTo(exportCopySql(relation, ARCHIVE_COLUMNS.trades))); for await (const c of s2) n += 0; }
  const sqlMs = performance.now() - t;
  console.log('export sql only', Math.round(sqlMs));
  t = performance.now();
  const store = createDirectoryStore(mkdtempSync('/tmp/scratch24/out-'));
  const r = await exportPartition(client, store, { table: 'trades', day, relation }, `x${round}.parquet`);
  const expMs = performance.now() - t;
  console.log(JSON.stringify({ copyMs: Math.round(copyMs), copyBytes: n, exportMs: Math.round(expMs), ratio: (expMs / copyMs).toFixed(2), ...r, rss: Math.round(process.memoryUsage().rss / 2 ** 20) }));
}
const chk = await client.query(partitionCheckSql(relation, ARCHIVE_COLUMNS.trades)); console.log('sql checksum', chk.rows[0].rows, chk.rows[0].checksum_sum);
await client.end(); await db.drop?.(); await server.stop();
process.exit(0);
})();
