import { afterAll, beforeAll, expect, it } from 'vitest';
import { DAY_MS } from '../../functions/shared/days';
import { connect, createTestDatabase, databaseState } from '../support/database';
import { type BundledHandler, invoke, loadHandler, metricsOf } from '../support/handlers';
import { seedDays } from '../support/rows';

let url: string;
const opened: BundledHandler[] = [];

beforeAll(async () => {
  url = await createTestDatabase();
  const migrate = await loadHandler('migrate', { DATABASE_URL: url });
  opened.push(migrate);
  expect((await invoke(migrate, {})).error).toBeUndefined();
  await seedDays(await connect(url), { from: new Date(Date.now() - 5 * DAY_MS), days: 2, rowsPerDay: 10 });
});

afterAll(async () => {
  for (const handler of opened) await handler.close();
});

it('a handler whose remaining time is below DEADLINE_RESERVE_MS stops before its first step, says why, and changes nothing', async () => {
  const partitions = await loadHandler('partitions', { DATABASE_URL: url, DEADLINE_RESERVE_MS: '60000' });
  opened.push(partitions);
  const before = await databaseState(url);
  // A function with a 45 s timeout: less than the 60 s reserve is left from the start.
  const run = await invoke(partitions, { daysAhead: 3 }, 'perps-partitions', 45_000);
  expect(run.error?.name).toBe('DeadlineError');
  expect(run.error?.retryable).toBe(true);
  expect(run.error?.message).toMatch(
    /^stopped before swapping out tickers_default \(tickers\): 4\d\.\d s left before the Lambda deadline, less than the 60\.0 s reserved for one step \(DEADLINE_RESERVE_MS\)/,
  );
  expect(run.error?.report).toMatchObject({
    operation: 'partitions',
    partitions_created: 0,
    tables: [{ table: 'tickers', status: 'stopped' }],
  });
  const failed = run.logs.filter((line) => line.message === 'partitions failed');
  expect(failed).toHaveLength(1);
  expect(failed[0]).toMatchObject({ error: { name: 'DeadlineError', retryable: true }, report: run.error?.report });
  expect(metricsOf(run.emf).get('Failure{service=perps-stats-db,Operation=partitions}')).toMatchObject({ value: 1 });
  expect(await databaseState(url)).toEqual(before);

  // The same function with time to spare finishes the work.
  const rerun = await invoke(partitions, { daysAhead: 3 }, 'perps-partitions', 15 * 60_000);
  expect(rerun.error).toBeUndefined();
  expect(rerun.result).toMatchObject({ partitions_created: 4 * (2 + 3), rows_moved: 4 * 20 });
});
