import * as z from 'zod';
import { BATCH_ENVIRONMENT, DDL_ENVIRONMENT, days } from '../../shared/definition-fields';
import { defineOperation } from '../../shared/operation-definition';
import { numberOrText, numberValue } from '../../shared/parse';
import { isSkipped, runUnlessLocked, type SkippedReport, WHEN_LOCKED } from '../../shared/when-locked';
import type { PartitionsReport } from './partitions';

/** `partitions`: days of partitions kept ready (payload, flag, PARTITIONS_DAYS_AHEAD, CDK context). */
export const DAYS_AHEAD = { min: 1, max: 366, default: 7 } as const;

export const partitionsOperation = defineOperation({
  id: 'partitions',
  payload: z.strictObject({ daysAhead: numberValue(days(DAYS_AHEAD)).default(DAYS_AHEAD.default), whenLocked: WHEN_LOCKED }),
  run: (ctx, { whenLocked, ...input }) =>
    runUnlessLocked('partitions', whenLocked, async () => (await import('./partitions')).ensurePartitions(ctx, input)),
  metrics: (report: PartitionsReport | SkippedReport<'partitions'>) =>
    isSkipped(report) ? {} : { counts: { PartitionsCreated: report.partitions_created, RowsMoved: report.rows_moved } },
  defaults: {
    variables: { PARTITIONS_DAYS_AHEAD: { field: 'daysAhead', schema: numberOrText(days(DAYS_AHEAD)).default(DAYS_AHEAD.default) } },
    actionFields: ['daysAhead'],
  },
  // Daily work, hourly runs: a LockBusyError (prune holding the lock) or a partial failure clears on a retry.
  deploy: {
    timeoutMinutes: 10,
    reservedConcurrency: 1,
    retryAttempts: 2,
    maxEventAgeMinutes: 6 * 60,
    login: 'maintenance',
    // Every hour at :45: a run stopped at its deadline leaves rows out of sight until a run places
    // them, so the next must come within the hour; :45 keeps it off the nightly runs. A run
    // Scheduler could not deliver is superseded by the next hour's.
    schedule: (deployment) => ({
      cron: { minute: '45', hour: '*' },
      input: { daysAhead: deployment.daysAhead },
      retryAttempts: 3,
      maxEventAgeMinutes: 60,
    }),
    environment: (deployment) => ({ PARTITIONS_DAYS_AHEAD: String(deployment.daysAhead) }),
  },
  cli: {
    // init's spelling is accepted here too, so either works with both commands.
    flags: { days: { field: 'daysAhead', kind: 'number' }, 'create-partitions-days': { field: 'daysAhead', kind: 'number' } },
    usage: {
      synopsis: 'partitions [--days N]',
      summary: `keep N days of partitions ready (${DAYS_AHEAD.min}-${DAYS_AHEAD.max}, default ${DAYS_AHEAD.default}); empty default partitions`,
      flags: [['--days N', `days of partitions from today (UTC), default ${DAYS_AHEAD.default}; --create-partitions-days N is the same`]],
      examples: ['', '--days 30', '--days 14 --format json'],
      environment: [...DDL_ENVIRONMENT, BATCH_ENVIRONMENT],
    },
  },
});
