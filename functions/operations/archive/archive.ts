import type pg from 'pg';
import { DecimalMisfitError, type ExportGuard, exportPartition, type PartitionTarget } from '../../shared/archive/export-partition';
import { archiveObjectKey } from '../../shared/archive/layout';
import { ARCHIVE_LEDGER_TABLE, recordArchive } from '../../shared/archive/ledger';
import { type ArchiveCandidate, modificationCounters, planArchive } from '../../shared/archive/plan';
import type { ArchiveStore } from '../../shared/archive/store';
import { type ArchiveSettings, assertArchiveConfigured, createArchiveStore } from '../../shared/archive/store';
import { verifyArchive } from '../../shared/archive/verify';
import { assertSchemaInstalled, catalogEstimates } from '../../shared/catalog';
import { errorMessage, type OperationContext } from '../../shared/context';
import { dayOf } from '../../shared/days';
import { withAdvisoryLock, withClient } from '../../shared/db/sessions';
import { DeadlineError, InputError, MigrationError } from '../../shared/errors';
import { type PieceProgress, startProgress } from '../../shared/progress';
import { assertNoFailedSteps, runSteps } from '../../shared/step-runner';
import { TIME_SERIES_TABLES, type TimeSeriesTable } from '../../shared/tables';

export interface ArchiveInput {
  /** Archive day partitions whose day is at least this many days before today (UTC). */
  archiveAfterDays: number;
  /** Only this table. */
  table?: TimeSeriesTable;
  /** Only this day (YYYY-MM-DD; before today), whatever archiveAfterDays says. */
  day?: string;
  /** List what would be archived, write nothing. */
  dryRun?: boolean;
}

/**
 * `refused`: values DECIMAL(38,18) cannot hold; nothing written (fix the rows, run again).
 * `failed`: export, upload or verification failed; nothing recorded (the next run tries again).
 */
type PartitionStatus = 'planned' | 'archived' | 'refused' | 'failed';

/** One day partition of a run. */
export interface ArchivedPartition {
  table: TimeSeriesTable;
  day: string;
  partition: string;
  /** Why it is archived: see ArchiveCandidate's reason (plan.ts). */
  reason: string;
  status: PartitionStatus;
  key: string;
  rows?: number;
  bytes?: number;
  seconds?: number;
  error?: string;
}

export interface ArchiveReport {
  operation: 'archive';
  dry_run: boolean;
  /** `s3://bucket` or `file:///dir`. */
  location: string;
  partitions: ArchivedPartition[];
  /** Day partitions archived before and unchanged since: nothing to do. */
  partitions_already_archived: number;
  partitions_archived: number;
  rows_archived: number;
  bytes_archived: number;
  partitions_failed: number;
}

/** Under this much time left, an export in progress is abandoned (and its upload aborted) rather than killed. */
const ABANDON_MARGIN_MS = 5_000;

/**
 * Archives closed day partitions to Parquet objects (see docs/archive.md). For each day partition
 * old enough that has no ledger row, that changed since its row was written (late rows), whose
 * row names another store or key, or that an older version recorded without a content hash, it
 * exports the partition from one read-only snapshot (exportPartition), reads the object back and
 * checks its size, footer row count, columns and SHA-256 (verifyArchive), and only then upserts the
 * ledger row that lets prune drop the partition. A partition that fails is reported and left
 * unrecorded; the others go on. Runs under the maintenance lock; a Lambda deadline stops it
 * between partitions (or abandons the one in progress just before), and the next run carries on.
 */
export async function archive(ctx: OperationContext, input: ArchiveInput): Promise<ArchiveReport> {
  const today = dayOf(ctx.now());
  if (input.day !== undefined && input.day >= today) {
    throw new InputError(
      `archive: day ${input.day} is not over yet (today is ${today}, UTC): only a closed day partition, before today, can be archived`,
    );
  }
  const store = createArchiveStore(ctx.archive, 'archive');
  return withClient(ctx.pool, async (client) => {
    await assertSchemaInstalled(client);
    await assertLedgerInstalled(client);
    const report: ArchiveReport = {
      operation: 'archive',
      dry_run: Boolean(input.dryRun),
      location: store.location,
      partitions: [],
      partitions_already_archived: 0,
      partitions_archived: 0,
      rows_archived: 0,
      bytes_archived: 0,
      partitions_failed: 0,
    };
    await withAdvisoryLock(client, 'archive', { wait: false }, async () => {
      const prefix = ctx.archive?.prefix ?? '';
      const candidates = await planArchive(client, {
        tables: input.table ? [input.table] : TIME_SERIES_TABLES,
        now: ctx.now(),
        afterDays: input.archiveAfterDays,
        onlyDay: input.day,
        location: store.location,
        prefix,
      });
      report.partitions_already_archived = candidates.filter((c) => c.reason === null).length;
      report.partitions = candidates.flatMap((c) => (c.reason === null ? [] : [planned(c, prefix)]));
      if (!input.dryRun) await runExports(ctx, client, store, report);
    });
    const done = withTotals(report);
    const failed = done.partitions.filter((p) => p.status === 'failed' || p.status === 'refused');
    assertNoFailedSteps('archive', done, { failed, total: done.partitions.length, noun: 'day partitions not archived' });
    return done;
  });
}

/**
 * What can be refused without the database: no store (or two) configured, or a day that is
 * not over yet. The handler calls it before connecting; archive() again, for direct callers.
 */
export function checkArchiveInput(input: Pick<ArchiveInput, 'day'>, settings: { archive: ArchiveSettings | undefined; now: Date }): void {
  assertArchiveConfigured(settings.archive, 'archive');
  const today = dayOf(settings.now);
  if (input.day !== undefined && input.day >= today) {
    throw new InputError(
      `archive: day ${input.day} is not over yet (today is ${today}, UTC): only a closed day partition, before today, can be archived`,
    );
  }
}

function planned(candidate: ArchiveCandidate, prefix: string): ArchivedPartition {
  return {
    table: candidate.table,
    day: candidate.day,
    partition: candidate.relation,
    reason: candidate.reason ?? '',
    status: 'planned',
    key: archiveObjectKey(prefix, candidate.table, candidate.day),
  };
}

async function assertLedgerInstalled(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [ARCHIVE_LEDGER_TABLE]);
  if (!rows[0]?.present) {
    throw new MigrationError(
      `the archive ledger (table ${ARCHIVE_LEDGER_TABLE}, migration 0005) is missing: run \`migrate\` first (\`npm run local -- migrate\`, or invoke the migrate function)`,
    );
  }
}

/**
 * A day prune dropped after archiving it is back with rows that came later: writing it would
 * replace the object, the day's only copy of its archived rows, with those few. Refused (the
 * run fails, so the ArchiveFailures alarm says so); `restore` loads the archived rows beside
 * the late ones, and the next archive writes the whole day.
 */
function refusePrunedDay(ctx: OperationContext, item: ArchivedPartition): void {
  item.status = 'refused';
  item.error = `${item.partition}: prune dropped ${item.table} ${item.day} after archiving it to ${item.key}, and rows of that day came since; writing them would replace the archived day with them, so nothing was written. Run \`restore --table ${item.table} --day ${item.day}\` (it loads the archived rows beside the new ones), then archive again`;
  ctx.log.warn('archive refused a day pruned since it was archived', { partition: item.partition, key: item.key });
}

/** Exports, verifies and records each planned partition in turn. */
async function runExports(ctx: OperationContext, client: pg.ClientBase, store: ArchiveStore, report: ArchiveReport): Promise<void> {
  const reportSoFar = () => withTotals(report);
  const abandonNearDeadline = (step: string) => () => {
    const left = ctx.timeLeftMs?.();
    if (left !== undefined && left < ABANDON_MARGIN_MS) {
      throw new DeadlineError(
        `abandoned ${step} ${Math.round(left / 1000)} s before the Lambda deadline (nothing recorded; the next run archives it)`,
        {
          report: reportSoFar(),
        },
      );
    }
  };
  const refused = report.partitions.filter((item) => item.reason === 'pruned since archived');
  for (const item of refused) refusePrunedDay(ctx, item);
  const exports = report.partitions.filter((item) => !refused.includes(item));
  const estimates = ctx.progress
    ? await catalogEstimates(
        client,
        exports.map((item) => item.partition),
      )
    : new Map();
  let progress: PieceProgress | undefined;
  await runSteps(exports, {
    operation: 'archive',
    ctx,
    client,
    reportSoFar,
    name: (item) => `archiving ${item.partition}`,
    run: (item) => {
      const total = estimates.get(item.partition)?.rows;
      progress = startProgress(ctx.progress, { task: 'archive', table: item.table, day: item.day, unit: 'rows', total, estimated: true });
      const abandon = abandonNearDeadline(`archiving ${item.partition}`);
      return archivePartition(client, store, item, (rows) => {
        abandon();
        progress?.advance(rows);
      });
    },
    failed(item, error) {
      item.status = error instanceof DecimalMisfitError ? 'refused' : 'failed';
      item.error = errorMessage(error);
      ctx.log.warn('archive of a day partition failed', { partition: item.partition, key: item.key, error: item.error });
    },
    settled(item, ms) {
      item.seconds = Math.round(ms / 100) / 10;
      progress?.finish(item.rows ?? 0, item.status === 'planned' ? 'stopped' : item.status);
    },
  });
}

/** Exports one day partition, verifies the object and records it in the ledger. */
async function archivePartition(
  client: pg.ClientBase,
  store: ArchiveStore,
  item: ArchivedPartition,
  beforeEachBatch: ExportGuard,
): Promise<void> {
  const target: PartitionTarget = { table: item.table, day: item.day, relation: item.partition };
  const modifications = (await modificationCounters(client, [item.partition])).get(item.partition) ?? null;
  const written = await exportPartition(client, store, target, item.key, beforeEachBatch);
  await verifyArchive(store, item.key, item.table, written);
  await recordArchive(client, {
    table_name: item.table,
    day: item.day,
    location: store.location,
    object_key: item.key,
    rows: written.rows,
    bytes: written.bytes,
    checksum: written.checksum,
    source_modifications: modifications,
    object_sha256: written.sha256,
  });
  Object.assign(item, { status: 'archived', rows: written.rows, bytes: written.bytes });
}

/** The report with its totals counted from its partitions. */
function withTotals(report: ArchiveReport): ArchiveReport {
  const archived = report.partitions.filter((p) => p.status === 'archived');
  return {
    ...report,
    partitions_archived: archived.length,
    rows_archived: archived.reduce((sum, p) => sum + (p.rows ?? 0), 0),
    bytes_archived: archived.reduce((sum, p) => sum + (p.bytes ?? 0), 0),
    partitions_failed: report.partitions.filter((p) => p.status === 'failed' || p.status === 'refused').length,
  };
}
