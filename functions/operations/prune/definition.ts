import * as z from 'zod';
import {
  BATCH_ENVIRONMENT,
  DDL_ENVIRONMENT,
  DROP_GROUP_ENVIRONMENT,
  days,
  NIGHTLY,
  NIGHTLY_FUNCTION,
  switchValue,
} from '../../shared/definition-fields';
import type { Deployment } from '../../shared/operation-definition';
import { defineOperation } from '../../shared/operation-definition';
import { numberOrText, numberValue } from '../../shared/parse';
import { checkPruneArchive, prunePlanProblems } from './checks';
import type { PruneReport } from './prune';

/** `prune`: the retention periods in days (payload, flags, PRUNE_* variables, CDK context). */
export const RETENTION_DAYS = { min: 1, max: 36_500 } as const;

const retentionDays = numberValue(days(RETENTION_DAYS)).optional();

export const pruneOperation = defineOperation({
  id: 'prune',
  payload: z
    .strictObject({
      olderThanDays: retentionDays,
      dropPartitionsOlderThanDays: retentionDays,
      truncate: switchValue,
      confirm: z.string({ error: 'must be the database name' }).optional(),
      dryRun: switchValue,
    })
    .superRefine((input, check) => {
      for (const message of prunePlanProblems(input)) check.addIssue({ code: 'custom', message, path: [] });
    }),
  preflight: (payload, settings) => checkPruneArchive(payload, settings.archive),
  run: async (ctx, payload) => (await import('./prune')).prune(ctx, payload),
  metrics: (report: PruneReport) =>
    report.dry_run
      ? {}
      : {
          counts: {
            PartitionsDropped: report.partitions_dropped,
            PartitionsKept: report.partitions_kept,
            RowsDeleted: Object.values(report.rows_deleted).reduce((sum, rows) => sum + rows, 0),
          },
        },
  defaults: {
    variables: {
      PRUNE_OLDER_THAN_DAYS: { field: 'olderThanDays', schema: numberOrText(days(RETENTION_DAYS)).optional() },
      PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS: {
        field: 'dropPartitionsOlderThanDays',
        schema: numberOrText(days(RETENTION_DAYS)).optional(),
      },
    },
    actionFields: ['olderThanDays', 'dropPartitionsOlderThanDays', 'truncate'],
  },
  confirmation: { field: 'truncate', effect: 'empties markets and every data table', confirmWith: 'the name of the database to empty' },
  destroysData: (p) =>
    p.dryRun !== true && (p.truncate === true || p.olderThanDays !== undefined || p.dropPartitionsOlderThanDays !== undefined),
  // Batched deletes of a large table take the longest; the day's next run picks up the rest.
  deploy: {
    ...NIGHTLY_FUNCTION,
    // It reads the ledger's objects before it drops a day (with archiving on).
    archiveAccess: 'read',
    // 02:00, after the archive (01:20) and before vacuum (03:00); none when both retention actions
    // are off (its payload would name no action, which the handler rejects).
    schedule: (deployment) => {
      const input = retentionOf(deployment);
      return Object.keys(input).length > 0 ? { cron: { minute: '0', hour: '2' }, input, ...NIGHTLY } : undefined;
    },
    environment: (deployment) =>
      Object.fromEntries(
        Object.entries(retentionOf(deployment)).map(([field, days]) => [
          field === 'olderThanDays' ? 'PRUNE_OLDER_THAN_DAYS' : 'PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS',
          String(days),
        ]),
      ),
  },
  cli: {
    aliases: ['clean'],
    flags: {
      'older-than': { field: 'olderThanDays', kind: 'number' },
      'drop-partitions-older-than': { field: 'dropPartitionsOlderThanDays', kind: 'number' },
      truncate: { field: 'truncate', kind: 'switch' },
      'dry-run': { field: 'dryRun', kind: 'switch' },
    },
    usage: {
      summary: 'retention (give at least one of):',
      flags: [
        ['--older-than N', `delete rows older than N days (${RETENTION_DAYS.min}-${RETENTION_DAYS.max})`],
        [
          '--drop-partitions-older-than N',
          `drop day partitions that ended N or more days ago (${RETENTION_DAYS.min}-${RETENTION_DAYS.max})`,
        ],
        ['--truncate [--yes]', 'empty markets and all data tables (asks for the database name unless --yes)'],
        ['--dry-run', 'print what would be done, change nothing'],
      ],
      examples: [
        '--older-than 90 --dry-run',
        '--drop-partitions-older-than 180',
        '--truncate',
        '--truncate --yes --database-url postgres://localhost/perps_dev',
      ],
      environment: [...DDL_ENVIRONMENT, BATCH_ENVIRONMENT, DROP_GROUP_ENVIRONMENT],
    },
  },
});

/** The retention a deployment asks for, as prune's payload fields. */
function retentionOf(deployment: Deployment): { olderThanDays?: number; dropPartitionsOlderThanDays?: number } {
  return {
    ...(deployment.deleteRowsOlderThanDays ? { olderThanDays: deployment.deleteRowsOlderThanDays } : {}),
    ...(deployment.dropPartitionsOlderThanDays ? { dropPartitionsOlderThanDays: deployment.dropPartitionsOlderThanDays } : {}),
  };
}
