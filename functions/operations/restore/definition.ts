import * as z from 'zod';
import { ARCHIVE_VARIABLES } from '../../shared/archive/layout';
import { DAY_RULE, partitionDayProblem } from '../../shared/days';
import { BATCH_ENVIRONMENT, DDL_ENVIRONMENT, switchValue } from '../../shared/definition-fields';
import { defineOperation } from '../../shared/operation-definition';
import { TIME_SERIES_TABLES } from '../../shared/tables';
import type { RestoreReport } from './restore';

export const restoreOperation = defineOperation({
  id: 'restore',
  payload: z.strictObject({
    table: z.enum(TIME_SERIES_TABLES, { error: `must be one of ${TIME_SERIES_TABLES.join(', ')}` }),
    day: z.string({ error: DAY_RULE }).superRefine((day, check) => {
      const problem = partitionDayProblem(day);
      if (problem) check.addIssue({ code: 'custom', message: problem });
    }),
    replace: switchValue,
    dryRun: switchValue,
  }),
  preflight: async (_, settings) => (await import('./restore')).checkRestoreArchive(settings.archive),
  run: async (ctx, payload) => (await import('./restore')).restore(ctx, payload),
  destroysData: (p) => p.replace === true && p.dryRun !== true,
  metrics: (report: RestoreReport) => (report.dry_run ? {} : { counts: { RowsRestored: report.rows_loaded } }),
  // Manual only (one day back from the archive), never scheduled: a failure says what to put
  // right, so no retry. 1024 MB: a row group of Parquet and its rows in memory, and the CPU
  // share (about 0.6 vCPU) to decode them.
  deploy: {
    timeoutMinutes: 15,
    memoryMb: 1024,
    reservedConcurrency: 1,
    retryAttempts: 0,
    maxEventAgeMinutes: 60,
    login: 'maintenance',
    archiveAccess: 'read',
  },
  cli: {
    flags: {
      from: { field: 'directory', kind: 'text', variable: ARCHIVE_VARIABLES.directory },
      table: { field: 'table', kind: 'text' },
      day: { field: 'day', kind: 'text' },
      replace: { field: 'replace', kind: 'switch' },
      'dry-run': { field: 'dryRun', kind: 'switch' },
    },
    usage: {
      synopsis: 'restore [--from DIR] --table T --day YYYY-MM-DD [--replace] [--dry-run]',
      summary: "load one archived day back into its partition (the archive's Parquet object, verified against the ledger)",
      flags: [
        ['--from DIR', `read the archive in this directory instead of ${ARCHIVE_VARIABLES.bucket} (sets ${ARCHIVE_VARIABLES.directory})`],
        ['--table T', `the table: ${TIME_SERIES_TABLES.join(', ')}`],
        ['--day YYYY-MM-DD', 'the UTC day'],
        ['--replace', "replace the rows the day's partition holds with the archive's (refused without it)"],
        ['--dry-run', 'say what would be loaded (object, rows, bytes, the partition now), change nothing'],
      ],
      examples: [
        '--from ./archive --table trades --day 2026-01-05 --dry-run',
        '--table trades --day 2026-01-05',
        '--table tickers --day 2026-01-05 --replace',
      ],
      environment: [
        ...DDL_ENVIRONMENT,
        BATCH_ENVIRONMENT,
        [ARCHIVE_VARIABLES.bucket, 'the S3 bucket of the archive (the stack sets it in AWS)'],
        [ARCHIVE_VARIABLES.prefix, 'key prefix in the bucket or directory (default perps-archive)'],
        [ARCHIVE_VARIABLES.endpointUrl, 'an S3-compatible server instead of AWS S3'],
        [ARCHIVE_VARIABLES.directory, 'a directory instead of a bucket (what --from sets)'],
      ],
    },
  },
});
