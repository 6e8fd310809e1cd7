import * as z from 'zod';
import { ARCHIVE_AFTER_DAYS, ARCHIVE_VARIABLES } from '../../shared/archive/layout';
import { isCalendarDay } from '../../shared/days';
import { days, NIGHTLY, NIGHTLY_FUNCTION, switchValue } from '../../shared/definition-fields';
import { defineOperation } from '../../shared/operation-definition';
import { numberOrText, numberValue } from '../../shared/parse';
import { TIME_SERIES_TABLES } from '../../shared/tables';
import { isSkipped, runUnlessLocked, type SkippedReport, WHEN_LOCKED } from '../../shared/when-locked';
import type { ArchiveReport } from './archive';

export const archiveOperation = defineOperation({
  id: 'archive',
  payload: z.strictObject({
    archiveAfterDays: numberValue(days(ARCHIVE_AFTER_DAYS)).default(ARCHIVE_AFTER_DAYS.default),
    table: z.enum(TIME_SERIES_TABLES, { error: `must be one of ${TIME_SERIES_TABLES.join(', ')}` }).optional(),
    day: z.string().refine(isCalendarDay, { error: 'must be a calendar day, YYYY-MM-DD' }).optional(),
    dryRun: switchValue,
    whenLocked: WHEN_LOCKED,
  }),
  preflight: async (payload, settings) => (await import('./archive')).checkArchiveInput(payload, settings),
  run: (ctx, { whenLocked, ...input }) =>
    runUnlessLocked('archive', whenLocked, async () => (await import('./archive')).archive(ctx, input)),
  metrics: (report: ArchiveReport | SkippedReport<'archive'>) =>
    isSkipped(report) || report.dry_run
      ? {}
      : {
          counts: {
            ArchivedPartitions: report.partitions_archived,
            ArchivedRows: report.rows_archived,
            ArchivedBytes: report.bytes_archived,
            ArchiveFailures: report.partitions_failed,
          },
        },
  defaults: {
    variables: {
      [ARCHIVE_VARIABLES.afterDays]: {
        field: 'archiveAfterDays',
        schema: numberOrText(days(ARCHIVE_AFTER_DAYS)).default(ARCHIVE_AFTER_DAYS.default),
      },
    },
    actionFields: ['archiveAfterDays', 'day'],
  },
  // Runs as the owner (the default runsAs): it writes archive_ledger, which only the maintenance user may.
  // Daily: each closed day partition exported, verified and recorded in turn; the deadline stops
  // it between two (or abandons the one in progress just before) and a retry or the next day's
  // run carries on. 1024 MB: the Parquet writer's row groups in memory, and CPU grows with memory
  // (about 0.6 vCPU here, 1/7 at 256 MB).
  deploy: {
    ...NIGHTLY_FUNCTION,
    memoryMb: 1024,
    archiveAccess: 'write',
    // 01:20 with archiving on, before prune (02:00), so that prune finds last night's days
    // archived: 40 minutes for a run of up to 15 and Lambda's first retry. Its payload defaults
    // are in its environment, so a manual `{}` does the same.
    schedule: (deployment) => (deployment.archive ? { cron: { minute: '20', hour: '1' }, input: {}, ...NIGHTLY } : undefined),
    environment: (deployment) =>
      deployment.archive ? { [ARCHIVE_VARIABLES.afterDays]: String(deployment.archive.afterDays) } : ({} as Record<string, string>),
  },
  cli: {
    flags: {
      to: { field: 'directory', kind: 'text', variable: ARCHIVE_VARIABLES.directory },
      'after-days': { field: 'archiveAfterDays', kind: 'number' },
      table: { field: 'table', kind: 'text' },
      day: { field: 'day', kind: 'text' },
      'dry-run': { field: 'dryRun', kind: 'switch' },
    },
    usage: {
      synopsis: 'archive [--to DIR] [--after-days N] [--table T] [--day D] [--dry-run]',
      summary: `closed day partitions N+ days old (default ${ARCHIVE_AFTER_DAYS.default}) to Parquet in a bucket or DIR, verified, recorded in archive_ledger`,
      flags: [
        ['--to DIR', `write to this directory instead of ${ARCHIVE_VARIABLES.bucket} (sets ${ARCHIVE_VARIABLES.directory})`],
        [
          '--after-days N',
          `archive days at least N days before today, UTC (${ARCHIVE_AFTER_DAYS.min}-${ARCHIVE_AFTER_DAYS.max}, default ${ARCHIVE_AFTER_DAYS.default})`,
        ],
        ['--table T', `only this table (${TIME_SERIES_TABLES.join(', ')})`],
        ['--day YYYY-MM-DD', 'only this day (a closed one: before today, UTC)'],
        ['--dry-run', 'list the day partitions it would archive, write nothing'],
      ],
      examples: ['--to ./archive', '--to ./archive --dry-run', '--table trades --day 2026-06-01', '--after-days 7 --format json'],
      environment: [
        [ARCHIVE_VARIABLES.bucket, 'the S3 bucket to write to (the stack sets it in AWS)'],
        [ARCHIVE_VARIABLES.prefix, 'key prefix in the bucket or directory (default perps-archive)'],
        [ARCHIVE_VARIABLES.endpointUrl, 'an S3-compatible server instead of AWS S3'],
        [ARCHIVE_VARIABLES.directory, 'a directory instead of a bucket (what --to sets)'],
      ],
    },
  },
});
