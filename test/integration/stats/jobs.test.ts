import { beforeAll, describe, expect, it } from 'vitest';
import { localLambdaContext } from '../../../functions/cli/lambda-context';
import { LocalMetrics } from '../../../functions/cli/metrics';
import { renderStats } from '../../../functions/cli/renderers/stats';
import { createOperationHandler } from '../../../functions/lambda/operation-handler';
import { migrate } from '../../../functions/operations/migrate/migrate';
import { OPERATIONS } from '../../../functions/operations/registry';
import type { Logger } from '../../../functions/shared/log';
import { createTestDatabase, testContext, withClient } from '../../support/database';
import { type EmfDocument, metricsOf } from '../../support/handlers';

// stats reads the history of runs (job_runs): per operation the last run, the last success that
// did the job, and OVERDUE where that success is older than the operation's OVERDUE_AFTER_MINUTES (functions/shared/job-runs.ts)
// (26 hours for the daily jobs, 15 minutes for stats). The runs are written here as the owner, at
// instants relative to a pinned clock.

const NOW = new Date('2026-09-02T10:30:00Z');
const HOUR = 3_600_000;

/** [operation, hours before NOW it finished, outcome, did_work, error] (each run took one second). */
const RUNS: [string, number, 'succeeded' | 'failed', boolean, string | null][] = [
  ['migrate', 40 * 24, 'succeeded', true, null],
  ['partitions', 2, 'succeeded', true, null],
  ['vacuum', 27, 'succeeded', true, null],
  ['vacuum', 3, 'failed', true, 'DeadlineError: vacuum stopped before sealing trades_2026_09_01'],
  ['vacuum', 1, 'succeeded', false, null],
  ['prune', 30, 'failed', true, 'LockBusyError: busy'],
  ['prune', 6, 'failed', true, 'LockBusyError: busy'],
  ['stats', 20 / 60, 'succeeded', true, null],
  ['restore', 1, 'succeeded', false, null],
];

let url: string;

beforeAll(async () => {
  url = await createTestDatabase();
  // Straight through the core: nothing records itself here.
  await migrate(testContext(url, { now: NOW }));
  await withClient(url, async (client) => {
    for (const [operation, hours, outcome, didWork, error] of RUNS) {
      const finished = new Date(NOW.getTime() - hours * HOUR);
      await client.query(
        `INSERT INTO job_runs (operation, started_at, finished_at, outcome, origin, did_work, summary, error)
         VALUES ($1, $2::timestamptz - interval '1 second', $2, $3, 'lambda', $4, '{}', $5)`,
        [operation, finished.toISOString(), outcome, didWork, error],
      );
    }
  });
});

const ago = (hours: number) => new Date(NOW.getTime() - hours * HOUR).toISOString();

describe('stats: when did each job last succeed?', () => {
  it('reports per operation the last run, the last success that did the job, and overdue against its schedule', async () => {
    const report = await OPERATIONS.stats.run(testContext(url, { now: NOW }), {});
    const never = { last_run: null, last_success_at: null, seconds_since_success: null };
    expect(report.jobs).toEqual({
      migrate: expect.objectContaining({ last_success_at: ago(40 * 24), overdue_after_seconds: null, overdue: false }),
      partitions: expect.objectContaining({ last_success_at: ago(2), seconds_since_success: 7200, overdue: false }),
      prune: {
        last_run: expect.objectContaining({ finished_at: ago(6), outcome: 'failed', error: 'LockBusyError: busy' }),
        last_success_at: null,
        seconds_since_success: null,
        overdue_after_seconds: 26 * 3600,
        // No success kept, and failing for 30 hours.
        overdue: true,
      },
      stats: expect.objectContaining({ seconds_since_success: 1200, overdue_after_seconds: 900, overdue: true }),
      vacuum: {
        // The dry run an hour ago is the last run, not the last success.
        last_run: {
          started_at: new Date(NOW.getTime() - HOUR - 1000).toISOString(),
          finished_at: ago(1),
          outcome: 'succeeded',
          origin: 'lambda',
          did_work: false,
          summary: {},
          error: null,
        },
        last_success_at: ago(27),
        seconds_since_success: 27 * 3600,
        overdue_after_seconds: 26 * 3600,
        overdue: true,
      },
      archive: { ...never, overdue_after_seconds: 26 * 3600, overdue: false },
      restore: expect.objectContaining({ last_success_at: null, overdue_after_seconds: null, overdue: false }),
    });
    expect(Object.keys(report.jobs ?? {})).toEqual(['migrate', 'partitions', 'prune', 'stats', 'vacuum', 'archive', 'restore']);
    expect(OPERATIONS.stats.metrics(report, { dataAge: true }).database?.OverdueJobs).toBe(3);
  });

  it('shows them in a jobs table of its own, within 120 columns', async () => {
    const report = await OPERATIONS.stats.run(testContext(url, { now: NOW }), {});
    const text = renderStats(report);
    const jobs = text.slice(text.indexOf('\njob ') + 1).split('\n');
    expect(jobs).toEqual([
      'job         last run                  outcome              from    last success  overdue after',
      `migrate     ${ago(40 * 24 + 1 / 3600)}  succeeded            lambda  40d ago       not scheduled`,
      `partitions  ${ago(2 + 1 / 3600)}  succeeded            lambda  2h ago        1d 2h`,
      `prune       ${ago(6 + 1 / 3600)}  failed               lambda  never         1d 2h          OVERDUE`,
      `stats       ${ago(20 / 60 + 1 / 3600)}  succeeded            lambda  20m ago       15m            OVERDUE`,
      `vacuum      ${ago(1 + 1 / 3600)}  succeeded (no work)  lambda  1d 3h ago     1d 2h          OVERDUE`,
      'archive     never                                                  never         1d 2h',
      `restore     ${ago(1 + 1 / 3600)}  succeeded (no work)  lambda  never         not scheduled`,
    ]);
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(120);
  });

  it('publishes OverdueJobs through the handler, and nothing when no job is overdue', async () => {
    const documents: EmfDocument[] = [];
    const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
    const run = async (now: Date) => {
      documents.length = 0;
      const handler = createOperationHandler(OPERATIONS.stats, {
        env: { DATABASE_URL: url },
        log: quiet,
        metrics: new LocalMetrics((emf) => documents.push(JSON.parse(emf) as EmfDocument)),
        now: () => now,
      });
      try {
        await handler({}, localLambdaContext('perps-stats-db-stats'));
      } finally {
        await handler.close();
      }
      return metricsOf(documents);
    };
    expect((await run(NOW)).get('OverdueJobs{service=perps-stats-db}')).toMatchObject({ value: 3, unit: 'Count' });
    // Just after the oldest run kept: nothing was overdue yet.
    const early = await run(new Date(NOW.getTime() - 40 * 24 * HOUR));
    expect([...early.keys()].filter((key) => key.startsWith('OverdueJobs'))).toEqual([]);
  });

  it('says the history is missing in a database not migrated to 0008 (jobs: null)', async () => {
    const old = await createTestDatabase();
    await migrate(testContext(old, { now: NOW }));
    await withClient(old, (client) => client.query('DROP TABLE job_runs CASCADE'));
    const report = await OPERATIONS.stats.run(testContext(old, { now: NOW }), {});
    expect(report.jobs).toBeNull();
    expect(renderStats(report)).toContain('jobs: no history of runs in this database yet (table job_runs): run migrate');
  });
});
