import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../functions/operations/migrate/migrate';
import { ensurePartitions } from '../../functions/operations/partitions/partitions';
import { archiveObjectKey } from '../../functions/shared/archive/layout';
import { addDays, dayOf, partitionName } from '../../functions/shared/days';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { archiveDirectory, settleModifications } from '../support/archive';
import { insertEdgeRows } from '../support/archive-rows';
import { connect, createTestDatabase, withContext } from '../support/database';
import { type BundledHandler, invoke, loadHandler, metricsOf } from '../support/handlers';
import { type LocalS3, startLocalS3 } from '../support/s3';

/*
 * The archive bundle as Lambda runs it (ESM, hyparquet and the S3 client inside), on the real
 * clock: three days ago holds the edge rows of every table; the default waits two days.
 */
const SERVICE = 'service=perps-stats-db';
const DAY = addDays(dayOf(new Date()), -3);
const opened: BundledHandler[] = [];
let s3: LocalS3;

async function seededDatabase(): Promise<string> {
  const url = await createTestDatabase();
  await withContext(url, {}, async (ctx) => {
    await migrate(ctx);
    const client = await connect(url);
    await insertEdgeRows(client, DAY);
    await client.end();
    await ensurePartitions(ctx, { daysAhead: 1 });
  });
  await settleModifications(
    url,
    TIME_SERIES_TABLES.map((table) => partitionName(table, DAY)),
    10,
  );
  return url;
}

async function handlerWith(env: Record<string, string>): Promise<BundledHandler> {
  const handler = await loadHandler('archive', env);
  opened.push(handler);
  return handler;
}

beforeAll(async () => {
  s3 = await startLocalS3();
});

afterAll(async () => {
  for (const handler of opened) await handler.close();
  await s3.stop();
});

describe('the archive handler, bundled', () => {
  it('on its scheduled input archives the closed days to the bucket (S3-compatible endpoint) and publishes its counts', async () => {
    const url = await seededDatabase();
    const handler = await handlerWith({ DATABASE_URL: url, ARCHIVE_BUCKET: s3.bucket, ARCHIVE_S3_ENDPOINT_URL: s3.endpointUrl });
    const run = await invoke(handler, {});
    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ operation: 'archive', partitions_archived: 4, rows_archived: 10, partitions_failed: 0 });
    expect(await s3.keys()).toEqual(TIME_SERIES_TABLES.map((table) => archiveObjectKey('perps-archive', table, DAY)).sort());
    const metrics = metricsOf(run.emf);
    expect(metrics.get(`ArchivedPartitions{${SERVICE},Operation=archive}`)).toMatchObject({ value: 4, unit: 'Count' });
    expect(metrics.get(`ArchivedRows{${SERVICE},Operation=archive}`)).toMatchObject({ value: 10, unit: 'Count' });
    expect(metrics.get(`ArchivedBytes{${SERVICE},Operation=archive}`)?.value).toBe(run.result?.bytes_archived);
    // A count of 0 is not published: CloudWatch would bill its hour all the same.
    expect(metrics.get(`ArchiveFailures{${SERVICE},Operation=archive}`)).toBeUndefined();
    const again = await invoke(handler, {});
    expect(again.result).toMatchObject({ partitions: [], partitions_already_archived: 4 });
  });

  it('ARCHIVE_AFTER_DAYS sets the default a payload can override; ARCHIVE_DIR writes to a directory', async () => {
    const url = await seededDatabase();
    const handler = await handlerWith({ DATABASE_URL: url, ARCHIVE_DIR: archiveDirectory(), ARCHIVE_AFTER_DAYS: '4' });
    expect((await invoke(handler, { dryRun: true })).result).toMatchObject({ partitions: [] });
    const forced = await invoke(handler, { archiveAfterDays: 3 });
    expect(forced.result).toMatchObject({ partitions_archived: 4 });
  });

  it('refuses a bad payload and a bad archive setting before connecting, every problem at once', async () => {
    const handler = await handlerWith({
      DATABASE_URL: 'postgres://127.0.0.1:1/none',
      ARCHIVE_BUCKET: 'Not_A_Bucket',
      ARCHIVE_PREFIX: '/x/',
    });
    const run = await invoke(handler, {});
    expect(run.error?.name).toBe('InputError');
    expect(run.error?.message).toBe(
      'ARCHIVE_BUCKET: must be an S3 bucket name: 3-63 lowercase letters, digits, . or -; ARCHIVE_PREFIX: must be path segments of letters, digits, _ . = - joined by /, with no / at either end',
    );
    const payload = await invoke(await handlerWith({ DATABASE_URL: 'postgres://127.0.0.1:1/none' }), { table: 'nope', day: '2026-02-30' });
    expect(payload.error?.name).toBe('InputError');
    expect(payload.error?.message).toContain('table: must be one of tickers, orderbooks, trades, funding_rates');
    expect(payload.error?.message).toContain('day: must be a calendar day, YYYY-MM-DD');
  });
});
