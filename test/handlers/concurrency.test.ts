import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../functions/shared/days';
import { ALL_TABLES } from '../../functions/shared/tables';
import { connect, createTestDatabase, fingerprint, schemaState } from '../support/database';
import { type BundledHandler, invoke, invokeAll, loadHandler, type Outcome } from '../support/handlers';
import { dataFingerprint, seedDays } from '../support/rows';

const RUNS = 10;
type Operation = 'migrate' | 'partitions' | 'prune' | 'stats';
const opened: BundledHandler[] = [];

/** `count` cold Lambda instances of one operation on `url`, each with its own module and pool. */
async function instances(operation: Operation, url: string, count: number): Promise<BundledHandler[]> {
  const handlers: BundledHandler[] = [];
  for (let i = 0; i < count; i++) handlers.push(await loadHandler(operation, { DATABASE_URL: url }));
  opened.push(...handlers);
  return handlers;
}

/** What a single run leaves, for "the same as one run": relations, ledger and row counts per table. */
async function shape(url: string): Promise<Record<string, unknown>> {
  const client = await connect(url);
  const counts: Record<string, number> = {};
  for (const table of ALL_TABLES) counts[table] = (await fingerprint(client, table)).rows;
  await client.end();
  return { ...(await schemaState(url)), counts };
}

/** The same event to every handler. */
const each = (handlers: BundledHandler[], event: unknown): Array<[BundledHandler, unknown]> => handlers.map((h) => [h, event]);

/**
 * Every outcome is a success or the documented "lock taken" failure; returns the successes, of
 * which there must be one unless `allMayBeBusy` (other operations may hold the lock throughout).
 */
function successesOrLockBusy(outcomes: Outcome[], operation: Operation, allMayBeBusy = false): Record<string, unknown>[] {
  for (const outcome of outcomes.filter((o) => o.error)) {
    expect(outcome.error?.name).toBe('LockBusyError');
    expect(outcome.error?.retryable).toBe(true);
    expect(outcome.error?.message).toMatch(
      new RegExp(
        `^${operation}: another maintenance run \\(migrate, partitions, prune, vacuum, archive or restore\\) holds the maintenance lock`,
      ),
    );
  }
  const results = outcomes.flatMap((o) => (o.result ? [o.result] : []));
  if (!allMayBeBusy) expect(results.length).toBeGreaterThan(0);
  return results;
}

/** The same data in a second database, maintained by single runs, to compare with. */
async function seed(url: string): Promise<void> {
  const client = await connect(url);
  // Three past days with no partition (in the default) and rows old enough to prune.
  await seedDays(client, { from: new Date(Date.now() - 40 * DAY_MS), days: 3, rowsPerDay: 50 });
  await seedDays(client, { from: new Date(Date.now() - 3 * DAY_MS), days: 2, rowsPerDay: 50 });
}

let concurrent: string;
let single: string;

beforeAll(async () => {
  concurrent = await createTestDatabase();
  single = await createTestDatabase();
});

afterAll(async () => {
  for (const handler of opened) await handler.close();
});

describe(`${RUNS} concurrent runs of each operation through the handlers`, () => {
  it('migrate: all succeed, the migrations apply exactly once', async () => {
    const outcomes = await invokeAll(each(await instances('migrate', concurrent, RUNS), {}));
    expect(outcomes.filter((o) => o.error)).toEqual([]);
    const applied = outcomes.map((o) => o.result?.applied).sort();
    expect(applied).toEqual([...Array(RUNS - 1).fill(0), 8]);
    const [reference] = await instances('migrate', single, 1);
    expect((await invoke(reference as BundledHandler, {})).result).toMatchObject({ applied: 8 });
    expect(await shape(concurrent)).toEqual(await shape(single));
  });

  it('partitions: every run succeeds or says the lock is taken; no row lost; the same partitions as one run', async () => {
    await seed(concurrent);
    await seed(single);
    const before = await dataFingerprint(concurrent);
    const outcomes = await invokeAll(each(await instances('partitions', concurrent, RUNS), { daysAhead: 5 }));
    const results = successesOrLockBusy(outcomes, 'partitions');
    // Whichever runs got the lock, the days were created once between them.
    expect(results.reduce((sum, r) => sum + Number(r.partitions_created), 0)).toBe(4 * (3 + 2 + 5));
    expect(await dataFingerprint(concurrent)).toEqual(before);
    const [reference] = await instances('partitions', single, 1);
    expect((await invoke(reference as BundledHandler, { daysAhead: 5 })).error).toBeUndefined();
    expect(await shape(concurrent)).toEqual(await shape(single));
  });

  it('prune: every run succeeds or says the lock is taken; the same rows and partitions as one run', async () => {
    const event = { olderThanDays: 30, dropPartitionsOlderThanDays: 30 };
    const outcomes = await invokeAll(each(await instances('prune', concurrent, RUNS), event));
    const results = successesOrLockBusy(outcomes, 'prune');
    expect(results.reduce((sum, r) => sum + Number(r.partitions_dropped), 0)).toBe(4 * 3);
    const [reference] = await instances('prune', single, 1);
    expect((await invoke(reference as BundledHandler, event)).result).toMatchObject({ partitions_dropped: 12 });
    expect(await shape(concurrent)).toEqual(await shape(single));
    expect((await dataFingerprint(concurrent)).tickers.rows).toBe(100);
  });

  it('stats: all succeed with the same figures, and change nothing', async () => {
    const before = await shape(concurrent);
    const outcomes = await invokeAll(each(await instances('stats', concurrent, RUNS), {}));
    expect(outcomes.filter((o) => o.error)).toEqual([]);
    const rows = outcomes.map((o) =>
      JSON.stringify(Object.values(o.result?.tables as Record<string, { row_count: number }>).map((t) => t.row_count)),
    );
    expect(new Set(rows).size).toBe(1);
    expect(await shape(concurrent)).toEqual(before);
  });

  it('all four operations at once, ten of each: only successes and lock-taken failures, then a clean state', async () => {
    const events: Record<Operation, unknown> = { migrate: {}, partitions: { daysAhead: 6 }, prune: { olderThanDays: 30 }, stats: {} };
    const operations = Object.keys(events) as Operation[];
    const calls: Array<[BundledHandler, unknown]> = [];
    for (let i = 0; i < RUNS; i++) {
      for (const op of operations) calls.push(...each(await instances(op, concurrent, 1), events[op]));
    }
    const before = await dataFingerprint(concurrent);
    const outcomes = await invokeAll(calls);
    const successes = operations.map((op, i) =>
      successesOrLockBusy(
        outcomes.filter((_, n) => n % operations.length === i),
        op,
        true,
      ),
    );
    // migrate waits for the lock rather than failing: every one of them succeeded.
    expect(outcomes.filter((o, n) => n % operations.length === 0 && o.error)).toEqual([]);
    // Nothing was old enough to delete any more, and nothing was lost.
    expect(await dataFingerprint(concurrent)).toEqual(before);
    // On a busy machine every partitions run may have met the lock taken: then the next
    // scheduled run creates the sixth day, as it would in production.
    if (successes[operations.indexOf('partitions')]?.length === 0) {
      const [next] = await instances('partitions', concurrent, 1);
      expect((await invoke(next as BundledHandler, { daysAhead: 6 })).error).toBeUndefined();
    }
    const [partitions] = await instances('partitions', single, 1);
    expect((await invoke(partitions as BundledHandler, { daysAhead: 6 })).error).toBeUndefined();
    expect(await shape(concurrent)).toEqual(await shape(single));
  });
});
