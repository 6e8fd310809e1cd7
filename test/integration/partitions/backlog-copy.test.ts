import { expect, it } from 'vitest';
import { migrate } from '../../../functions/operations/migrate/migrate';
import { type CopyProgress, copyDayOut, readCopyProgress } from '../../../functions/shared/backlog-copy';
import { BACKLOG_COMMENT, listColumns } from '../../../functions/shared/catalog';
import { connect, createTestDatabase, testContext } from '../../support/database';

/*
 * The copy out of a backlog resumes from the progress in the backlog's comment. A batch ends at
 * a ts and takes every row at it, so rows sharing a ts across a batch's edge are neither skipped
 * nor copied twice, however the run is stopped.
 */

const DAY = '2026-06-10';

it('copies rows sharing a ts across batch edges once each, resuming from the progress a stopped run left', async () => {
  const url = await createTestDatabase();
  const ctx = testContext(url, { settings: { batchSize: 5 } });
  await migrate(ctx);
  const client = await connect(url);
  await client.query(`CREATE TABLE tickers_backlog_1 (LIKE tickers INCLUDING DEFAULTS)`);
  await client.query(`CREATE INDEX ON tickers_backlog_1 (ts)`);
  await client.query(`COMMENT ON TABLE tickers_backlog_1 IS '${BACKLOG_COMMENT}'`);
  await client.query(`CREATE TABLE tickers_2026_06_10 (LIKE tickers INCLUDING DEFAULTS)`);
  // 7 rows at 01:00 (more than a batch), 7 at 02:00 with microseconds, 3 at 03:00, and rows of
  // the days around, which stay.
  await client.query(
    `INSERT INTO tickers_backlog_1 (exchange_id, symbol, ts)
     SELECT 1, 'S' || n, ts FROM unnest($1::timestamptz[]) WITH ORDINALITY AS r(ts, n)`,
    [
      [
        ...Array(7).fill('2026-06-10 01:00:00+00'),
        ...Array(7).fill('2026-06-10 02:00:00.123456+00'),
        ...Array(3).fill('2026-06-10 03:00:00+00'),
        '2026-06-09 23:59:59.999999+00',
        '2026-06-11 00:00:00+00',
      ],
    ],
  );
  const copy = {
    backlog: 'tickers_backlog_1',
    target: 'tickers_2026_06_10',
    columns: await listColumns(client, 'tickers'),
    day: DAY,
  };

  // Stopped before its second batch: the first took all 7 rows at 01:00, and says so.
  let batches = 0;
  const stop = () => {
    if (++batches === 2) throw new Error('stopped');
  };
  await expect(copyDayOut(ctx, client, copy, await readCopyProgress(client, copy.backlog), { beforeBatch: stop })).rejects.toThrow(
    'stopped',
  );
  expect(await readCopyProgress(client, copy.backlog)).toEqual(new Map([[DAY, { through: '2026-06-10 01:00:00.000000+00' }]]));
  expect((await client.query('SELECT count(*)::int AS n FROM tickers_2026_06_10')).rows[0]?.n).toBe(7);

  // Resumed from the comment alone, as a fresh run would: 02:00 (all 7), then 03:00 and the end.
  const progress: CopyProgress = await readCopyProgress(client, copy.backlog);
  const seen: number[] = [];
  const copied = await copyDayOut(ctx, client, copy, progress, { beforeBatch: () => {}, afterBatch: (rows) => seen.push(rows) });
  expect(seen).toEqual([7, 3]);
  expect(copied).toBe(10);
  expect(progress.get(DAY)).toBe('all');
  expect(await readCopyProgress(client, copy.backlog)).toEqual(new Map([[DAY, 'all']]));
  const comment = await client.query(`SELECT obj_description('tickers_backlog_1'::regclass, 'pg_class') AS c`);
  expect(comment.rows[0]?.c).toBe(`${BACKLOG_COMMENT}\ncopied ${DAY} all`);

  // Each of the day's 17 rows once, none of the other days'; the backlog keeps all 19.
  const rows = await client.query(
    `SELECT count(*)::int AS n, count(DISTINCT symbol)::int AS d, min(ts) = '2026-06-10 01:00:00+00' AS first FROM tickers_2026_06_10`,
  );
  expect(rows.rows[0]).toEqual({ n: 17, d: 17, first: true });
  expect((await client.query('SELECT count(*)::int AS n FROM tickers_backlog_1')).rows[0]?.n).toBe(19);

  // A day copied whole is not copied again.
  expect(await copyDayOut(ctx, client, copy, progress, { beforeBatch: () => {} })).toBe(0);
  expect((await client.query('SELECT count(*)::int AS n FROM tickers_2026_06_10')).rows[0]?.n).toBe(17);
  await client.end();
});

it('refuses a backlog comment it cannot read rather than guessing how far the copy got', async () => {
  const url = await createTestDatabase();
  await migrate(testContext(url));
  const client = await connect(url);
  await client.query(`CREATE TABLE tickers_backlog_1 (LIKE tickers)`);
  await client.query(`COMMENT ON TABLE tickers_backlog_1 IS '${BACKLOG_COMMENT}\ncopied 2026-06-10 halfway'`);
  await expect(readCopyProgress(client, 'tickers_backlog_1')).rejects.toThrow(
    /unreadable progress line "copied 2026-06-10 halfway" in a backlog's comment/,
  );
  await client.end();
});
