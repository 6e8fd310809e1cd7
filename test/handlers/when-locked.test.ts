import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, databaseState, holdMaintenanceLock, initDatabase, testContext } from '../support/database';
import { type BundledHandler, invoke, loadHandler, metricsOf } from '../support/handlers';

// The partitions payload's whenLocked, as the deploy invoker sends it: a busy maintenance lock
// ends the run successfully with a report saying it was skipped, instead of LockBusyError.
describe('partitions with whenLocked', () => {
  let url: string;
  let handler: BundledHandler;
  beforeAll(async () => {
    url = await createTestDatabase();
    await initDatabase(testContext(url), { daysAhead: 2 });
    handler = await loadHandler('partitions', { DATABASE_URL: url });
  });
  afterAll(async () => {
    await handler?.close();
  });

  it('"skip": reports lock_busy and succeeds, changing nothing, while another run holds the lock', async () => {
    const before = await databaseState(url);
    const holder = await holdMaintenanceLock(url);
    try {
      const skipped = await invoke(handler, { whenLocked: 'skip', daysAhead: 9 });
      expect(skipped.error).toBeUndefined();
      expect(skipped.result).toEqual({
        operation: 'partitions',
        skipped: 'lock_busy',
        reason: expect.stringMatching(
          /^partitions: another maintenance run \(migrate, partitions, prune, vacuum, archive or restore\) holds the maintenance lock on this database \(pid \d+, user "[^"]+", application_name "[^"]*", connected since \d{4}-\d\d-\d\dT[\d:.]+Z; did not wait\)/,
        ),
      });
      const metrics = metricsOf(skipped.emf);
      expect(metrics.get('Success{service=perps-stats-db,Operation=partitions}')?.value).toBe(1);
      expect(metrics.has('PartitionsCreated{service=perps-stats-db,Operation=partitions}')).toBe(false);
      // "fail", and no whenLocked at all, keep LockBusyError.
      for (const event of [{ whenLocked: 'fail' }, {}]) expect((await invoke(handler, event)).error?.name).toBe('LockBusyError');
    } finally {
      await holder.release();
    }
    expect(await databaseState(url)).toEqual(before);
  });

  it('"skip" with the lock free runs as usual', async () => {
    const run = await invoke(handler, { whenLocked: 'skip', daysAhead: 3 });
    expect(run.result).toMatchObject({ operation: 'partitions', days_ahead: 3, partitions_created: 4 });
  });
});
