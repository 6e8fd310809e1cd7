import { beforeAll, describe, expect, it } from 'vitest';
import { archive } from '../../functions/operations/archive/archive';
import { migrate } from '../../functions/operations/migrate/migrate';
import { ensurePartitions } from '../../functions/operations/partitions/partitions';
import { addDays, dayOf, partitionName } from '../../functions/shared/days';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { withArchive } from '../support/archive';
import { insertEdgeRows } from '../support/archive-rows';
import { afterFile, connect, createTestDatabase, testContext } from '../support/database';
import { type BundledHandler, invoke, loadHandler, metricsOf } from '../support/handlers';
import { dataFingerprint } from '../support/rows';
import { type LocalS3, startLocalS3 } from '../support/s3';

/*
 * The restore bundle as Lambda runs it (ESM, hyparquet and the S3 client inside): days archived
 * to a bucket on an S3-compatible endpoint, dropped, and loaded back by the handler.
 */
const SERVICE = 'service=perps-stats-db';
const DAY = addDays(dayOf(new Date()), -3);
let s3: LocalS3;

beforeAll(async () => {
  s3 = await startLocalS3();
  afterFile(() => s3.stop());
});

/** The bundled restore handler with `env`, closed after the file. */
async function restoreHandler(env: Record<string, string>): Promise<BundledHandler> {
  const handler = await loadHandler('restore', env);
  afterFile(() => handler.close());
  return handler;
}

describe('the restore handler, bundled', () => {
  it('loads every dropped table of an archived day back from the bucket, exactly, and publishes RowsRestored', async () => {
    const url = await createTestDatabase();
    const ctx = withArchive(testContext(url), { bucket: s3.bucket, endpointUrl: s3.endpointUrl, prefix: 'perps-archive' });
    const client = await connect(url);
    await migrate(ctx);
    // The edge rows of every table land in the DEFAULT partitions; partitions gives them their day.
    await insertEdgeRows(client, DAY);
    await ensurePartitions(ctx, { daysAhead: 1 });
    expect((await archive(ctx, { archiveAfterDays: 2, day: DAY })).partitions_archived).toBe(4);
    const before = await dataFingerprint(url);
    // A copy to compare by value: trades has 1.50000000000000000000000000, which comes back as 1.5.
    await client.query(`CREATE TABLE trades_before AS SELECT * FROM ${partitionName('trades', DAY)}`);
    for (const table of TIME_SERIES_TABLES) await client.query(`DROP TABLE ${partitionName(table, DAY)}`);

    const handler = await restoreHandler({ DATABASE_URL: url, ARCHIVE_BUCKET: s3.bucket, ARCHIVE_S3_ENDPOINT_URL: s3.endpointUrl });
    const preview = await invoke(handler, { table: 'trades', day: DAY, dryRun: true });
    expect(preview.result).toMatchObject({ operation: 'restore', dry_run: true, status: 'planned', partition_rows_before: null });
    expect(metricsOf(preview.emf).get(`RowsRestored{${SERVICE},Operation=restore}`)).toBeUndefined();
    let restored = 0;
    for (const table of TIME_SERIES_TABLES) {
      const run = await invoke(handler, { table, day: DAY });
      expect(run.error).toBeUndefined();
      expect(run.result).toMatchObject({
        operation: 'restore',
        status: 'restored',
        key_from: 'ledger',
        // The checksums read numbers without trailing fraction zeros: trades' 1.5 matches too.
        ledger_checksum_matches: true,
      });
      restored += Number(metricsOf(run.emf).get(`RowsRestored{${SERVICE},Operation=restore}`)?.value);
      // Its progress in the structured log: a small day's load is one entry, its end, with the rows the report has.
      expect(run.logs.filter((entry) => entry.message === 'progress')).toEqual([
        expect.objectContaining({
          level: 'INFO',
          operation: 'restore',
          task: 'restore',
          table,
          day: DAY,
          phase: 'finish',
          unit: 'rows',
          done: run.result?.rows_loaded,
          total: run.result?.rows_loaded,
          outcome: 'restored',
        }),
      ]);
    }
    const after = await dataFingerprint(url);
    expect({ ...after, trades: before.trades }).toEqual(before);
    expect(after.trades.rows).toBe(before.trades.rows);
    const differing = await client.query(
      `SELECT b.id FROM trades_before b FULL JOIN ${partitionName('trades', DAY)} t USING (id) WHERE (b.*) IS DISTINCT FROM (t.*)`,
    );
    expect(differing.rows).toEqual([]);
    const { rows } = await client.query(`SELECT size::text FROM trades WHERE trade_id = 't-3'`);
    expect(rows).toEqual([{ size: '1.5' }]);
    expect(restored).toBe(Object.values(before).reduce((sum, t) => sum + t.rows, 0) - (await rowsOutside(url, DAY)));
  });

  it('refuses a payload without a day, and any payload without an archive, before connecting', async () => {
    const handler = await restoreHandler({ DATABASE_URL: 'postgres://127.0.0.1:1/none' });
    const noDay = await invoke(handler, { table: 'trades' });
    expect(noDay.error?.name).toBe('InputError');
    expect(noDay.error?.message).toBe('invalid restore payload: day: must be a UTC day written YYYY-MM-DD');
    const noArchive = await invoke(handler, { table: 'trades', day: DAY });
    expect(noArchive.error?.name).toBe('InputError');
    expect(noArchive.error?.message).toMatch(/^restore: no archive is configured: set ARCHIVE_BUCKET/);
  });
});

/** Rows of the time-series tables outside `day` (restore loaded only the day's). */
async function rowsOutside(url: string, day: string): Promise<number> {
  const client = await connect(url);
  let rows = 0;
  for (const table of TIME_SERIES_TABLES) {
    const { rows: counted } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} WHERE ts < $1::timestamptz OR ts >= $2::timestamptz`,
      [`${day}T00:00:00Z`, `${addDays(day, 1)}T00:00:00Z`],
    );
    rows += counted[0]?.n ?? 0;
  }
  return rows;
}
