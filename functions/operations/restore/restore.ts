import type pg from 'pg';
import { checkStoredRows } from '../../shared/archive/export-sql';
import { ARCHIVE_COLUMNS, ARCHIVE_VARIABLES, archiveObjectKey, DEFAULT_ARCHIVE_PREFIX } from '../../shared/archive/layout';
import { type LedgerEntry, markRestored, readLedgerEntry } from '../../shared/archive/ledger';
import { ArchiveReadError, loadArchiveRows } from '../../shared/archive/load-rows';
import { digestObject, OBJECT_DIGEST_NAME } from '../../shared/archive/object-digest';
import { type ArchiveFile, openArchiveFile } from '../../shared/archive/read-rows';
import type { ArchiveStore } from '../../shared/archive/store';
import { type ArchiveSettings, assertArchiveConfigured, createArchiveStore, isArchiveConfigured } from '../../shared/archive/store';
import {
  assertSchemaInstalled,
  countExact,
  foreignKeyStates,
  listColumns,
  listForeignKeys,
  listPartitions,
  type PartitionInfo,
  primaryKeyColumns,
} from '../../shared/catalog';
import { errorMessage, type OperationContext } from '../../shared/context';
import { attachDayTable, buildIndexes, type DayTable, prepareDayTable, validateForeignKeys } from '../../shared/day-partition';
import { dayBoundLiterals, dayStart, partitionDayProblem, partitionName } from '../../shared/days';
import { quoteIdent } from '../../shared/db/identifiers';
import { connectionLostError, withAdvisoryLock, withClient } from '../../shared/db/sessions';
import { isConnectionFailure } from '../../shared/db/sql-errors';
import { assertTimeForStep } from '../../shared/deadline';
import { type DropGuard, dropEmptiedTable, mustBeEmpty, ROWS_KEPT_ELSEWHERE } from '../../shared/drop-table';
import { ArchiveIntegrityError, InputError } from '../../shared/errors';
import { startProgress } from '../../shared/progress';
import { moveAllRows } from '../../shared/row-moves';
import type { TimeSeriesTable } from '../../shared/tables';

export interface RestoreInput {
  table: TimeSeriesTable;
  /** YYYY-MM-DD, a UTC day. */
  day: string;
  /** Replace the rows the day's partition holds with the archive's. */
  replace?: boolean;
  /** Say what would be loaded, change nothing. */
  dryRun?: boolean;
}

/** Where restore reads: the configured store, the key prefix, and the ledger row of the day if any. */
interface RestoreSource {
  store: ArchiveStore;
  prefix: string;
  /** The day's ledger row (null: none; the key then comes from the layout). */
  ledger: LedgerEntry | null;
}

export interface RestoreReport {
  operation: 'restore';
  dry_run: boolean;
  table: TimeSeriesTable;
  day: string;
  /** The day's partition, `<table>_YYYY_MM_DD`. */
  partition: string;
  location: string;
  object_key: string;
  /** `ledger`: the key the ledger recorded; `layout`: no ledger row, the key archiveObjectKey gives the day. */
  key_from: 'ledger' | 'layout';
  object_bytes: number;
  /** Rows the object's footer declares. */
  object_rows: number;
  /** Rows the ledger recorded (null: no ledger row). */
  ledger_rows: number | null;
  /** Rows the day's partition held before (null: the day had no partition). */
  partition_rows_before: number | null;
  /** Rows of the day waiting in the DEFAULT partition, moved into the restored partition by its attach. */
  default_rows: number;
  replace: boolean;
  /** The day's partition holds rows and `replace` was not given: a real run refuses (a dry run says so here). */
  needs_replace: boolean;
  /** Rows loaded from the archive (0 in a dry run). */
  rows_loaded: number;
  /** Rows of the day the attach moved in from the DEFAULT partition (there at planning, or written there while the archive loaded). */
  rows_swept: number;
  /**
   * Rows written into the day's (then empty) partition while the archive loaded, moved into the
   * restored day after the attach (0 when `replace` replaced rows: see kept_table).
   */
  late_rows: number;
  /**
   * A table holding rows of the day that restore did not place, or null: `<partition>_replaced`,
   * the swapped-out partition, kept because (with `replace`) its rows changed while the archive
   * loaded, or because its late rows could not all be moved. A warning says so too.
   */
  kept_table: string | null;
  /**
   * The archive's checksum (values.ts) of the rows as read from the object and sent to the loaded
   * table, which was checked to store exactly those values (null in a dry run).
   */
  checksum: string | null;
  /**
   * Whether it equals the checksum the ledger recorded from the partition at archive time (null:
   * no ledger row, or a dry run). Never false in a report: a difference fails the restore with
   * ArchiveIntegrityError. The checksums read numbers without trailing fraction zeros, so a
   * `1.50` that comes back as `1.5` still matches.
   */
  ledger_checksum_matches: boolean | null;
  status: 'planned' | 'restored';
}

/** The comment on a day table restore is filling: nobody else attaches it; the next restore drops it. */
export const RESTORE_IN_PROGRESS_COMMENT = 'perps-stats-db: day partition being restored from the archive; dropped by the next restore';

/** The comment on the day's old partition once a restore has swapped it out (see RestoreReport.kept_table). */
const SWAPPED_OUT_COMMENT =
  "perps-stats-db: the day's partition as a restore swapped it out; rows written to it while the archive loaded are still here";

/** The name the day's old partition takes when a restore swaps it out. */
function swappedOutName(table: TimeSeriesTable, day: string): string {
  return `${partitionName(table, day)}_replaced`;
}

/** The table a restore fills, beside the day's own name (which the partitions run would otherwise adopt). */
export function restoreTableName(table: TimeSeriesTable, day: string): string {
  return `${partitionName(table, day)}_restore`;
}

/**
 * Loads one archived day back into its partition, the low-lock way (see day-partition.ts): a
 * standalone table shaped like the parent is filled from the object row group by row group,
 * counted against the footer (and the ledger), indexed, its foreign keys validated, then attached
 * in one short transaction, which swaps the day's old partition (if any) out rather than dropping
 * it; rows written into it while the archive loaded are then moved in, or, with `replace`, kept
 * (settleSwappedOut). Nothing is changed until the attach: any failure before it drops the table
 * and leaves the day as it was; none after it loses a row. With `dryRun`, says what it would load
 * and changes nothing.
 */
export async function restore(ctx: OperationContext, input: RestoreInput): Promise<RestoreReport> {
  const dayProblem = partitionDayProblem(input.day);
  if (dayProblem) throw new InputError(`restore ${input.table} ${input.day}: ${dayProblem}`);
  checkRestoreArchive(ctx.archive);
  const store = createArchiveStore(ctx.archive, 'restore');
  const prefix = ctx.archive?.prefix ?? DEFAULT_ARCHIVE_PREFIX;
  return withClient(ctx.pool, async (client) => {
    await assertSchemaInstalled(client);
    let report: RestoreReport | undefined;
    try {
      return await withAdvisoryLock(client, 'restore', { wait: false }, async () => {
        const ledger = await readLedgerEntry(client, input.table, input.day);
        const plan = await planRestore(ctx, client, input, { store, prefix, ledger });
        report = plan.report;
        if (input.dryRun) return plan.report;
        await runRestore(ctx, client, plan);
        return plan.report;
      });
    } catch (error) {
      if (isConnectionFailure(error)) throw connectionLostError('restore', client, error, report);
      throw error;
    }
  });
}

/** Throws InputError, saying what to set, unless exactly one archive (a bucket or a directory) is configured. */
export function checkRestoreArchive(settings: ArchiveSettings | undefined): void {
  if (!isArchiveConfigured(settings)) {
    throw new InputError(
      `restore: no archive is configured: set ${ARCHIVE_VARIABLES.bucket} to the archive's S3 bucket (the stack sets it in AWS), or locally give --from DIR (${ARCHIVE_VARIABLES.directory}); ${ARCHIVE_VARIABLES.endpointUrl} points the bucket at an S3-compatible server`,
    );
  }
  assertArchiveConfigured(settings, 'restore');
}

/** What a restore found before changing anything. */
interface RestorePlan {
  report: RestoreReport;
  ledger: LedgerEntry | null;
  file: ArchiveFile;
  dayTable: DayTable;
  /** With `replace` over a partition holding rows: its row versions at planning, to tell whether it changed since. */
  replacedCheck: RowVersions | null;
}

/** A relation's rows and a fingerprint of their versions (rowVersions). */
interface RowVersions {
  rows: number;
  versions: string;
}

/**
 * Every check that can refuse, before anything changes. Cost: a ledger lookup, the object's footer
 * (one or two ranged reads), catalog reads, an exact count of the day's partition when it exists
 * (one day; with `replace`, rowVersions, one scan too), and a count of the day's rows in the DEFAULT partition (capped, through its ts index).
 */
async function planRestore(ctx: OperationContext, client: pg.ClientBase, input: RestoreInput, source: RestoreSource): Promise<RestorePlan> {
  const { table, day } = input;
  const { store, ledger } = source;
  if (ledger && ledger.location !== store.location) {
    throw new InputError(
      `restore ${table} ${day}: the archive ledger says this day was archived to ${ledger.location}, but the configured archive is ${store.location}: point ${ARCHIVE_VARIABLES.bucket} (or, locally, ${ARCHIVE_VARIABLES.directory}) at ${ledger.location}`,
    );
  }
  const key = ledger?.object_key ?? archiveObjectKey(source.prefix, table, day);
  if (!ledger && (await store.size(key)) === null) {
    throw new InputError(
      `restore ${table} ${day}: nothing to restore: the archive ledger has no row for this day and ${store.location}/${key} does not exist (was the day archived? the table archive_ledger lists the archived days)`,
    );
  }
  const file = await openVerified(store, key, table, day, ledger);
  const partitions = await listPartitions(client, table);
  const own = partitionName(table, day);
  const existing = dayPartition(partitions, table, day);
  const defaultPartition = partitions.find((p) => p.isDefault)?.name;
  const kept = swappedOutName(table, day);
  if (await relationExists(client, kept)) {
    throw new InputError(
      `restore ${table} ${day}: ${kept} exists: an earlier restore of this day swapped the day's partition out as it, with rows written while the archive loaded (see kept_table in its report); move the rows you want from it into ${table} (docs/archive.md#restore shows how), drop it, then restore again: nothing was loaded`,
    );
  }
  // A day prune dropped after archiving it holds only rows that came since: they join the
  // archived rows (as rows written during the load do), nothing is replaced, with --replace too:
  // those rows exist nowhere else (the archive was written before them).
  const prunedSince = Boolean(ledger?.dropped_at);
  const replaces = input.replace && !prunedSince;
  // With replace, a fingerprint too, to tell after the swap whether rows came in meanwhile. An empty
  // partition has nothing to replace: what it holds after the load came during it, as without replace.
  const checked = existing && replaces ? await rowVersions(client, existing) : null;
  const replacedCheck = checked && checked.rows > 0 ? checked : null;
  const partitionRowsBefore = checked ? checked.rows : existing ? await countExact(client, existing) : null;
  const needsReplace = partitionRowsBefore !== null && partitionRowsBefore > 0 && !input.replace && !prunedSince;
  // A dry run reports it (needs_replace) instead: saying what is there is its job.
  if (needsReplace && !input.dryRun) {
    throw new InputError(
      `restore ${table} ${day}: partition ${own} exists and holds ${partitionRowsBefore} rows: nothing was loaded; to replace them with the archive's ${file.rows} rows, run again with --replace (Lambda: "replace": true), after a --dry-run`,
    );
  }
  const defaultRows = existing ? 0 : await assertFewDefaultRows(ctx, client, input, defaultPartition, 'plan');
  const shape = {
    table,
    defaultPartition,
    columns: await listColumns(client, table),
    foreignKeys: await listForeignKeys(client, table),
    conflictKey: await primaryKeyColumns(client, table),
  };
  const report: RestoreReport = {
    operation: 'restore',
    dry_run: Boolean(input.dryRun),
    table,
    day,
    partition: own,
    location: store.location,
    object_key: key,
    key_from: ledger ? 'ledger' : 'layout',
    object_bytes: file.bytes,
    object_rows: file.rows,
    ledger_rows: ledger?.rows ?? null,
    partition_rows_before: partitionRowsBefore,
    default_rows: defaultRows,
    replace: Boolean(input.replace),
    needs_replace: needsReplace,
    rows_loaded: 0,
    rows_swept: 0,
    late_rows: 0,
    kept_table: null,
    checksum: null,
    ledger_checksum_matches: null,
    status: 'planned',
  };
  const dayTable: DayTable = {
    ...shape,
    day,
    name: restoreTableName(table, day),
    renameTo: own,
    ...(existing
      ? {
          replaces: {
            partition: existing,
            keptAs: kept,
            comment: SWAPPED_OUT_COMMENT,
            foreignKeys: [...(await foreignKeyStates(client, existing)).keys()],
          },
        }
      : {}),
  };
  return { report, ledger, file, dayTable, replacedCheck };
}

/** The object, opened and checked against the ledger row: same size, same rows, and (a row with a content hash) the same bytes. */
async function openVerified(
  store: ArchiveStore,
  key: string,
  table: TimeSeriesTable,
  day: string,
  ledger: RestoreSource['ledger'],
): Promise<ArchiveFile> {
  let file: ArchiveFile;
  try {
    file = await openArchiveFile(store, key, table);
  } catch (error) {
    throw new ArchiveIntegrityError(`restore ${table} ${day}: ${errorMessage(error)}; nothing was loaded`, { cause: error });
  }
  if (ledger && (file.bytes !== ledger.bytes || file.rows !== ledger.rows)) {
    throw new ArchiveIntegrityError(
      `restore ${table} ${day}: ${store.location}/${key} holds ${file.bytes} bytes and ${file.rows} rows, but the archive ledger recorded ${ledger.bytes} bytes and ${ledger.rows} rows: the object changed after it was archived; nothing was loaded`,
    );
  }
  if (ledger?.object_sha256) {
    // Read once: hashed here, and these very bytes are what the load decodes (no second read,
    // and nothing can change between the check and the load). Each chunk becomes a Blob as it
    // is hashed, and the object the Blob of those: held once, not once more as one buffer.
    const parts: Blob[] = [];
    const sha256 = await digestObject(store, key, file.bytes, (chunk) => parts.push(new Blob([chunk]))).catch((error: unknown) => {
      throw new ArchiveIntegrityError(`restore ${table} ${day}: ${errorMessage(error)}; nothing was loaded`, { cause: error });
    });
    if (sha256 !== ledger.object_sha256) {
      throw new ArchiveIntegrityError(
        `restore ${table} ${day}: ${store.location}/${key} changed after it was archived: its ${OBJECT_DIGEST_NAME} is ${sha256}, the archive ledger recorded ${ledger.object_sha256}; nothing was loaded`,
      );
    }
    file.verifiedObject = new Blob(parts);
  }
  return file;
}

/** The day's own partition (exact day bounds), or undefined; refuses a partition that covers the day with other bounds. */
function dayPartition(partitions: PartitionInfo[], table: TimeSeriesTable, day: string): string | undefined {
  const from = dayStart(day).getTime();
  // Not dayStart(addDays(day, 1)): after 9999-12-31 comes 10000-01-01, no YYYY-MM-DD day.
  const to = from + 86_400_000;
  for (const p of partitions) {
    if (p.isDefault) continue;
    const start = p.from?.getTime() ?? Number.NEGATIVE_INFINITY;
    const end = p.to?.getTime() ?? Number.POSITIVE_INFINITY;
    if (start === from && end === to) return p.name;
    if (start < to && end > from) {
      throw new InputError(
        `restore ${table} ${day}: partition ${p.name} covers ${day} with other bounds than the day's; restore only loads a day partition of its own: nothing was loaded`,
      );
    }
  }
  return undefined;
}

/**
 * A relation's rows and a fingerprint of their versions: the sum of a 64-bit hash of each row
 * version's place and creating transaction (ctid, xmin). An insert, update or delete changes it
 * (a new version has a new place and transaction); pruning, a DETACH or a RENAME do not. A
 * rewrite (VACUUM FULL, CLUSTER) reads as a change: the safe side, the table is kept. One scan of
 * the relation, hashing no row's values: on a 3e6-row day about 1.5 s, where the archive checksum
 * (partitionCheckSql) takes about 35 s.
 */
async function rowVersions(client: pg.ClientBase, relation: string): Promise<RowVersions> {
  const { rows } = await client.query<{ rows: string; versions: string }>(
    `SELECT count(*) AS rows, coalesce(sum(hashtextextended(ctid::text || ' ' || xmin::text, 0)), 0)::text AS versions FROM ${quoteIdent(relation)}`,
  );
  return { rows: Number(rows[0]?.rows ?? 0), versions: rows[0]?.versions ?? '0' };
}

async function relationExists(client: pg.ClientBase, relation: string): Promise<boolean> {
  const { rows } = await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [quoteIdent(relation)]);
  return rows[0]?.found ?? false;
}

/** Rows of `day` in `relation`, counted up to `cap` through its ts index (the DEFAULT partition is kept near-empty). */
async function countDayRows(client: pg.ClientBase, relation: string, day: string, cap: number): Promise<number> {
  const { from, to } = dayBoundLiterals(day);
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT 1 FROM ${quoteIdent(relation)} WHERE ts >= $1::timestamptz AND ts < $2::timestamptz LIMIT $3) d`,
    [from, to, cap],
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Builds and attaches the day. The table is filled, counted, indexed and validated while it is
 * ours alone; only the attach holds inserts, for as long as recovery's attach does. Any failure
 * before the attach commits drops the table: the day is as it was.
 */
async function runRestore(ctx: OperationContext, client: pg.ClientBase, plan: RestorePlan): Promise<void> {
  const { report, ledger, file, dayTable } = plan;
  const reportSoFar = () => report;
  const step = (name: string) =>
    assertTimeForStep(
      ctx,
      `${name} (restore ${report.table} ${report.day})`,
      reportSoFar,
      'the day is left as it was (what was loaded is dropped), and a new restore of it starts over',
    );
  await dropLeftover(ctx, client, dayTable);
  step(`preparing ${dayTable.name}`);
  await prepareDayTable(ctx, client, dayTable, 'none', RESTORE_IN_PROGRESS_COMMENT);
  const progress = startProgress(ctx.progress, { task: 'restore', table: report.table, day: report.day, unit: 'rows', total: file.rows });
  try {
    step(`loading rows into ${dayTable.name}`);
    const loaded = await loadArchiveRows(client, file, dayTable.name, report.table, {
      onBatch: (rows) => {
        report.rows_loaded = rows;
        step(`loading rows into ${dayTable.name}`);
        progress.advance(rows);
      },
    }).catch((error: unknown) => {
      // A damaged object ("premature end of input", a bad page) is what it is: exit 7, not a bug.
      if (!(error instanceof ArchiveReadError)) throw error;
      throw new ArchiveIntegrityError(
        `restore ${report.table} ${report.day}: ${report.location}/${report.object_key} cannot be read: ${errorMessage(error.cause)}; the day was left as it was (the loaded table was dropped)`,
        { cause: error.cause },
      );
    });
    report.rows_loaded = loaded.rows;
    report.checksum = loaded.checksum;
    await assertLoaded(client, dayTable.name, report, ledger, loaded.storedChecksum);
    step(`building the indexes of ${dayTable.name}`);
    await buildIndexes(ctx, client, dayTable);
    step(`validating the foreign keys of ${dayTable.name}`);
    await validateForeignKeys(ctx, client, dayTable);
    step(`attaching ${dayTable.name}`);
    await assertFewDefaultRows(ctx, client, report, dayTable.defaultPartition, 'attach');
    report.rows_swept = await attachDayTable(ctx, client, dayTable);
  } catch (error) {
    progress.finish(report.rows_loaded, 'failed');
    if (!isConnectionFailure(error)) {
      await dropEmptiedTable(ctx, client, dayTable.name, dayTable.foreignKeys, ROWS_KEPT_ELSEWHERE).catch((dropError: unknown) =>
        ctx.log.warn('the restore table was not dropped; the next restore of this day drops it', {
          table: dayTable.name,
          error: errorMessage(dropError),
        }),
      );
    }
    throw error;
  }
  report.status = 'restored';
  progress.finish(report.rows_loaded, report.status);
  // The archived rows are in a partition again, maybe with late ones: the next archive writes the day again.
  if (ledger) await markRestored(client, report.table, report.day);
  await settleSwappedOut(ctx, client, plan);
  ctx.log.info('day restored', {
    table: report.table,
    day: report.day,
    rows: report.rows_loaded,
    replaced: report.partition_rows_before,
    late_rows: report.late_rows,
    rows_swept: report.rows_swept,
  });
}

/**
 * The rows of the day waiting in the DEFAULT partition, which the attach moves in while it holds
 * inserts back, must stay few (MAINTENANCE_BATCH_SIZE): counted up to that cap through the
 * default's ts index, at planning and again right before the attach (an ingester may have written
 * there while the archive loaded).
 */
async function assertFewDefaultRows(
  ctx: OperationContext,
  client: pg.ClientBase,
  { table, day }: { table: TimeSeriesTable; day: string },
  defaultPartition: string | undefined,
  stage: 'plan' | 'attach',
): Promise<number> {
  if (!defaultPartition) return 0;
  const cap = ctx.settings.batchSize;
  const rows = await countDayRows(client, defaultPartition, day, cap + 1);
  if (rows > cap) {
    const found = stage === 'plan' ? 'wait in' : 'were written, while the archive loaded, into';
    throw new InputError(
      `restore ${table} ${day}: more than ${cap} rows of ${day} (MAINTENANCE_BATCH_SIZE) ${found} ${defaultPartition}; the attach would move them while it holds inserts back: nothing was changed; run partitions first (it gives them the day's partition), then restore with --replace`,
    );
  }
  return rows;
}

/**
 * After the attach: the day's old partition, swapped out by it (catalog only), is settled with no
 * lock that holds inserts back. Empty when planned (without `replace` it must be), every row in it
 * was written while the archive loaded: they are moved into the restored day (batches, each
 * DELETE ... RETURNING into an INSERT, so a row is in one place at every commit; a late row
 * replaces an archived one with its primary key), then the emptied table is dropped. With
 * `replace` over rows, the table is dropped only if it still holds exactly the row versions
 * planned (rowVersions, taken under its lock: it is detached, nobody else's); otherwise rows came in or
 * changed while the archive loaded, and which of them to keep is the operator's call: it stays,
 * named in the report (kept_table) and a warning. A failure here leaves the table, never a row
 * lost: the day is restored either way.
 */
async function settleSwappedOut(ctx: OperationContext, client: pg.ClientBase, plan: RestorePlan): Promise<void> {
  const { report, dayTable, replacedCheck } = plan;
  const kept = dayTable.replaces?.keptAs;
  if (!kept) return;
  try {
    if (!replacedCheck) {
      const { from, to } = dayBoundLiterals(report.day);
      const move = {
        source: kept,
        target: report.table,
        columns: dayTable.columns,
        range: { from, to },
        conflictKey: dayTable.conflictKey,
      };
      report.late_rows = await moveAllRows(ctx, client, move, { beforeBatch: () => {} });
    }
    const guard = replacedCheck ? unchangedSince(kept, report.table, replacedCheck) : mustBeEmpty(kept);
    await dropEmptiedTable(ctx, client, kept, [], guard);
  } catch (error) {
    if (isConnectionFailure(error)) throw error;
    report.kept_table = kept;
    ctx.log.warn('the restored day was written to while the archive loaded: rows not placed are kept', {
      table: report.table,
      day: report.day,
      kept_table: kept,
      reason: errorMessage(error),
    });
  }
}

/** A DropGuard: the table still holds exactly the row versions planned (rowVersions). */
function unchangedSince(relation: string, table: TimeSeriesTable, planned: RowVersions): DropGuard {
  return async (client) => {
    const now = await rowVersions(client, relation);
    if (now.rows !== planned.rows || now.versions !== planned.versions) {
      throw new Error(
        `${relation} holds ${now.rows} rows, the replaced partition ${planned.rows} when the restore was planned, and not the same row versions: rows were written, changed or deleted while the archive loaded; move those you want into ${table}, then drop ${relation}`,
      );
    }
  };
}

/**
 * The loaded table holds exactly the rows the footer (and the ledger) declare, and each holds
 * exactly the values sent for it: the stored-rows checksum of the table, read back by the server
 * (checkStoredRows: one scan of the loaded table, ours alone), equals the one the load computed
 * from the values it sent (`sent`, record-digest.ts), and the rows are counted there too, not taken
 * from the inserts. The values sent are the object's (the load computed their archive checksum on
 * the way, report.checksum), and that must equal the ledger's, taken when the day was archived.
 */
async function assertLoaded(
  client: pg.ClientBase,
  relation: string,
  report: RestoreReport,
  ledger: LedgerEntry | null,
  sent: string,
): Promise<void> {
  const { rows: counted, checksum: storedChecksum } = await checkStoredRows(client, relation, ARCHIVE_COLUMNS[report.table]);
  const where = `${report.location}/${report.object_key}`;
  const expected = [report.object_rows, ...(report.ledger_rows === null ? [] : [report.ledger_rows])];
  if (expected.some((n) => n !== counted)) {
    throw new ArchiveIntegrityError(
      `restore ${report.table} ${report.day}: ${counted} rows were loaded from ${where}, but its footer declares ${report.object_rows}${report.ledger_rows === null ? '' : ` and the ledger recorded ${report.ledger_rows}`}: the day was left as it was (the loaded table was dropped)`,
    );
  }
  if (storedChecksum !== sent) {
    throw new ArchiveIntegrityError(
      `restore ${report.table} ${report.day}: the loaded rows' checksum ${storedChecksum} differs from that of the rows sent from ${where} (${sent}): PostgreSQL did not store a value exactly as it was read from the object (has a column's type changed since the day was archived?); the day was left as it was (the loaded table was dropped)`,
    );
  }
  report.ledger_checksum_matches = ledger ? ledger.checksum === report.checksum : null;
  if (report.ledger_checksum_matches === false) {
    throw new ArchiveIntegrityError(
      `restore ${report.table} ${report.day}: the rows of ${where} (checksum ${report.checksum}) are not the rows the archive ledger recorded (${ledger?.checksum}), although their count is: the object was replaced or altered after it was archived; the day was left as it was (the loaded table was dropped)`,
    );
  }
}

/** A table an interrupted restore left under the restore name (carrying our comment): dropped. Anything else there is refused. */
async function dropLeftover(ctx: OperationContext, client: pg.ClientBase, dayTable: DayTable): Promise<void> {
  const { rows } = await client.query<{ ours: boolean }>(
    `SELECT c.relkind = 'r' AND NOT c.relispartition AND coalesce(obj_description(c.oid, 'pg_class') = $2, false) AS ours
       FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [quoteIdent(dayTable.name), RESTORE_IN_PROGRESS_COMMENT],
  );
  const found = rows[0];
  if (!found) return;
  if (!found.ours) {
    throw new InputError(
      `restore: a relation named ${dayTable.name} exists and is not one restore left behind; rename or drop it, then restore again`,
    );
  }
  await dropEmptiedTable(ctx, client, dayTable.name, dayTable.foreignKeys, ROWS_KEPT_ELSEWHERE);
}
