import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { benchServer, createBenchDatabase } from '../support/database';
import { loadDayPartition, seedMarkets, SYMBOLS } from '../support/data';
import { addDays, dayOf, partitionName } from '../../functions/core/days';
import { exactTextExpression, exportCopySql } from '../../functions/core/archive/export-sql';
import { ARCHIVE_COLUMNS } from '../../functions/core/archive/layout';
(async () => {
const rows = Number(process.argv[2] ?? 1e6);
const server = await benchServer();
const db = await createBenchDatabase(server.url, 'scratch');
await seedMarkets(db.url);
const day = addDays(dayOf(new Date()), -3);
await loadDayPartition(db.url, 'trades', day, rows, SYMBOLS);
const r = partitionName('trades', day);
const c = new pg.Client(db.url); await c.connect();
await c.query(`VACUUM ANALYZE ${r}`);
const cols = ARCHIVE_COLUMNS.trades;
const ex = (name: string) => exactTextExpression(cols.find((x) => x.name === name)!);
const texts = cols.map((col, i) => `${exactTextExpression(col)} AS c${i}`).join(', ');
const rowText = cols.map((_, i) => `coalesce(octet_length(x.c${i})::text || ':' || x.c${i}, '-')`).join(` || ',' || `);
const sel = cols.map((_, i) => `x.c${i}`).join(', ');
const qs: Record<string, string> = {
  copy_star: `COPY (SELECT * FROM ${r}) TO STDOUT`,
  copy_export_now: exportCopySql(r, cols),
  copy_lateral: `COPY (SELECT ${sel}, ('x' || substr(md5(${rowText}), 1, 15))::bit(60)::bigint FROM ${r} CROSS JOIN LATERAL (SELECT ${texts}) x) TO STDOUT`,
  copy_lateral_nomd5: `COPY (SELECT ${sel} FROM ${r} CROSS JOIN LATERAL (SELECT ${texts}) x) TO STDOUT`,
  copy_exact_cols: `COPY (SELECT ${cols.map((col) => exactTextExpression(col)).join(', ')} FROM ${r}) TO STDOUT`,
  ts_epoch_numeric: `SELECT sum(length(((extract(epoch from ts)*1000000)::bigint)::text)) FROM ${r}`,
  ts_exact: `SELECT sum(length(${ex('ts')})) FROM ${r}`,
  ts_text: `SELECT sum(length(ts::text)) FROM ${r}`,
};
for (const [name, q] of Object.entries(qs)) {
  const t = performance.now(); if (q.startsWith('COPY')) { const st = c.query(copyTo(q)); for await (const _ of st) {} } else await c.query(q); console.log(name.padEnd(16), Math.round(performance.now() - t), 'ms');
}
await c.end(); await server.stop(); process.exit(0);
})();
