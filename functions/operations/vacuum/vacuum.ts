import type pg from 'pg';
import { assertSchemaInstalled, catalogEstimates, listPartitions } from '../../shared/catalog';
import { errorMessage, type OperationContext } from '../../shared/context';
import { dayOf, dayStart } from '../../shared/days';
import { quoteIdent } from '../../shared/db/identifiers';
import { withAdvisoryLock, withClient } from '../../shared/db/sessions';
import { SQLSTATE } from '../../shared/db/sql-errors';
import { startProgress } from '../../shared/progress';
import { assertNoFailedSteps, runSteps } from '../../shared/step-runner';
import { isTimeSeriesTable, TIME_SERIES_TABLES } from '../../shared/tables';

export interface VacuumInput {
  /** List the steps, run none. */
  dryRun?: boolean;
}

/**
 * `skipped`: the relation was locked by another session (VACUUM/ANALYZE SKIP_LOCKED), so the
 * step waited for nothing and the next run tries it again.
 */
type StepStatus = 'planned' | 'done' | 'skipped' | 'failed';

/** One step of a vacuum run, as planned and then as done. */
export interface VacuumStep {
  /** `seal`: VACUUM (FREEZE, ANALYZE) of a closed day partition; `analyze`: ANALYZE of a parent or small table. */
  action: 'seal' | 'analyze';
  relation: string;
  /** Why the step is needed, in words ("never sealed", "changed since sealed", "statistics 30 h old"). */
  reason: string;
  status: StepStatus;
  /** How long the step took, once run. */
  duration_ms?: number;
  error?: string;
}

export interface VacuumReport {
  operation: 'vacuum';
  dry_run: boolean;
  steps: VacuumStep[];
  /** Closed day partitions already sealed and unchanged since: nothing to do. */
  partitions_already_sealed: number;
  partitions_sealed: number;
  tables_analyzed: number;
}

/** A partitioned parent's statistics older than this are renewed. */
const PARENT_STATISTICS_MAX_AGE_MS = 86_400_000;
const SMALL_TABLES = ['exchanges', 'markets', 'ingest_events'] as const;

/**
 * Seals closed day partitions and keeps the planner statistics of the partitioned parents fresh.
 *
 * A closed partition (its day ended before today, UTC) gets one VACUUM (FREEZE, ANALYZE): every
 * page frozen and all-visible, so autovacuum's anti-wraparound passes skip it from then on. A
 * partition counts as sealed, and is skipped, while the cumulative statistics say nothing touched
 * it since a manual VACUUM (see SEALED_SQL); one that received late rows is sealed again.
 * Autovacuum never analyzes a partitioned parent, so each parent is analyzed when its statistics
 * are more than a day old; exchanges, markets and ingest_events when autovacuum's own threshold is
 * passed and it has not got to them yet. VACUUM and ANALYZE take SHARE UPDATE EXCLUSIVE, which
 * inserts do not conflict with; SKIP_LOCKED makes a step skip a relation a DDL holds rather than
 * queue behind it.
 */
export async function vacuum(ctx: OperationContext, input: VacuumInput): Promise<VacuumReport> {
  return withClient(ctx.pool, async (client) => {
    await assertSchemaInstalled(client);
    const report: VacuumReport = {
      operation: 'vacuum',
      dry_run: Boolean(input.dryRun),
      steps: [],
      partitions_already_sealed: 0,
      partitions_sealed: 0,
      tables_analyzed: 0,
    };
    await withAdvisoryLock(client, 'vacuum', { wait: false }, async () => {
      const sealing = await planSeals(client, ctx.now());
      report.partitions_already_sealed = sealing.alreadySealed;
      report.steps = [...sealing.steps, ...(await planParentAnalyzes(client, ctx.now())), ...(await planSmallTableAnalyzes(client))];
      if (!input.dryRun) await runPlannedSteps(ctx, client, report, await analyzesParentOnly(client));
    });
    const done = withTotals(report);
    const failed = done.steps.filter((step) => step.status === 'failed');
    assertNoFailedSteps('vacuum', done, { failed, total: done.steps.length, noun: 'steps failed' });
    return done;
  });
}

/**
 * A relation is sealed when the cumulative statistics show a manual VACUUM and nothing since:
 * no row inserted, updated or deleted after its ANALYZE (n_mod_since_analyze, and on PostgreSQL
 * 13+ n_ins_since_vacuum, which a later plain ANALYZE does not reset), and no autovacuum or
 * autoanalyze after it (autovacuum only comes when rows changed). These counters
 * live in memory: a crash or a stats reset clears last_vacuum, and every partition is then sealed
 * again, once: the conservative side. Rows that changed between a seal and the writer's stats
 * flush (about a second) show up on the next run. n_dead_tup is no signal: ANALYZE re-estimates
 * it from its sample, and it can stay above 0 after the VACUUM that removed the rows.
 */
const SEALED_SQL = `s.last_vacuum IS NOT NULL
  AND s.n_mod_since_analyze = 0
  AND coalesce((to_jsonb(s) ->> 'n_ins_since_vacuum')::bigint, 0) = 0
  AND coalesce(s.last_autovacuum, '-infinity') < s.last_vacuum
  AND coalesce(s.last_autoanalyze, '-infinity') < s.last_vacuum`;

/** The statistics of `relations` (a missing row: never touched since the last stats reset). */
async function sealedState(client: pg.ClientBase, relations: string[]): Promise<Map<string, { sealed: boolean; vacuumed: boolean }>> {
  const { rows } = await client.query<{ relname: string; sealed: boolean; vacuumed: boolean }>(
    `SELECT s.relname, (${SEALED_SQL}) AS sealed, s.last_vacuum IS NOT NULL AS vacuumed
       FROM pg_stat_user_tables s WHERE s.schemaname = current_schema() AND s.relname = ANY ($1)`,
    [relations],
  );
  return new Map(rows.map((row) => [row.relname, { sealed: row.sealed, vacuumed: row.vacuumed }]));
}

/** Every day partition whose day ended before today (UTC) and that is not sealed. */
async function planSeals(client: pg.ClientBase, now: Date): Promise<{ steps: VacuumStep[]; alreadySealed: number }> {
  const today = dayStart(dayOf(now));
  const closed: string[] = [];
  for (const table of TIME_SERIES_TABLES) {
    for (const p of await listPartitions(client, table)) if (!p.isDefault && p.to !== null && p.to <= today) closed.push(p.name);
  }
  const state = await sealedState(client, closed);
  const steps: VacuumStep[] = [];
  for (const relation of closed) {
    const s = state.get(relation);
    if (s?.sealed) continue;
    const reason = s?.vacuumed ? 'changed since it was sealed' : 'not sealed yet';
    steps.push({ action: 'seal', relation, reason, status: 'planned' });
  }
  return { steps, alreadySealed: closed.length - steps.length };
}

/**
 * Each partitioned parent whose last ANALYZE is over a day old. PostgreSQL 14+ keeps a parent's
 * last_analyze in pg_stat_user_tables; 12 and 13 have no row for a partitioned table, so there
 * the age is unknown and the parent is analyzed on every run (the schedule runs daily).
 */
async function planParentAnalyzes(client: pg.ClientBase, now: Date): Promise<VacuumStep[]> {
  const { rows } = await client.query<{ relname: string; last: Date | null }>(
    `SELECT s.relname, greatest(s.last_analyze, s.last_autoanalyze) AS last
       FROM pg_stat_user_tables s WHERE s.schemaname = current_schema() AND s.relname = ANY ($1)`,
    [[...TIME_SERIES_TABLES]],
  );
  const known = new Map(rows.map((row) => [row.relname, row.last]));
  const steps: VacuumStep[] = [];
  for (const table of TIME_SERIES_TABLES) {
    const last = known.get(table);
    if (last && now.getTime() - last.getTime() < PARENT_STATISTICS_MAX_AGE_MS) continue;
    const reason =
      last === undefined
        ? 'partitioned parent; this server keeps no last analyze for it (PostgreSQL 12-13)'
        : last === null
          ? 'partitioned parent never analyzed'
          : `partitioned parent analyzed ${hoursAgo(now, last)} h ago`;
    steps.push({ action: 'analyze', relation: table, reason, status: 'planned' });
  }
  return steps;
}

/**
 * exchanges, markets and ingest_events when autovacuum would analyze them
 * (n_mod_since_analyze past autovacuum_analyze_threshold + scale_factor x reltuples, the
 * table's own storage parameters ignored) or they were never analyzed.
 */
async function planSmallTableAnalyzes(client: pg.ClientBase): Promise<VacuumStep[]> {
  const { rows } = await client.query<{ relname: string; never: boolean; due: boolean; changed: string }>(
    `SELECT s.relname,
            s.last_analyze IS NULL AND s.last_autoanalyze IS NULL AS never,
            s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8
              + current_setting('autovacuum_analyze_scale_factor')::float8 * greatest(c.reltuples, 0) AS due,
            s.n_mod_since_analyze AS changed
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
      WHERE s.schemaname = current_schema() AND s.relname = ANY ($1)`,
    [[...SMALL_TABLES]],
  );
  return rows
    .filter((row) => row.never || row.due)
    .sort((a, b) => SMALL_TABLES.indexOf(a.relname as never) - SMALL_TABLES.indexOf(b.relname as never))
    .map((row) => ({
      action: 'analyze' as const,
      relation: row.relname,
      reason: row.never ? 'never analyzed' : `${row.changed} rows changed since its last analyze`,
      status: 'planned' as const,
    }));
}

function hoursAgo(now: Date, then: Date): number {
  return Math.round((now.getTime() - then.getTime()) / 3_600_000);
}

/**
 * Runs the steps in order (see runSteps). Progress is the run's heap bytes gone through (the
 * catalog's sizes, read once): a VACUUM's time follows its relation's size, a row count does not
 * exist for a parent, and one statement gives no progress of its own.
 */
async function runPlannedSteps(ctx: OperationContext, client: pg.ClientBase, report: VacuumReport, parentOnly: boolean): Promise<void> {
  if (report.steps.length === 0) return;
  const sizes = ctx.progress
    ? await catalogEstimates(
        client,
        report.steps.map((step) => step.relation),
      )
    : new Map();
  const bytesOf = (step: VacuumStep): number => sizes.get(step.relation)?.bytes ?? 0;
  const total = report.steps.reduce((sum, step) => sum + bytesOf(step), 0);
  const progress = startProgress(ctx.progress, { task: 'vacuum', unit: 'bytes', total });
  let done = 0;
  await runSteps(report.steps, {
    operation: 'vacuum',
    ctx,
    client,
    reportSoFar: () => withTotals(report),
    name: (step) => `${step.action} ${step.relation}`,
    async run(step) {
      step.status = (await runStep(client, step, parentOnly)) ? 'done' : 'skipped';
    },
    failed(step, error) {
      step.status = 'failed';
      step.error = errorMessage(error);
      ctx.log.info('vacuum step failed', { relation: step.relation, error: step.error });
    },
    settled(step, ms) {
      step.duration_ms = ms;
      done += bytesOf(step);
      progress.advance(done);
    },
  });
  progress.finish(done, report.steps.some((step) => step.status === 'failed') ? 'failed' : 'done');
}

/**
 * One statement, outside any transaction (VACUUM refuses a transaction block). SKIP_LOCKED
 * instead of lock_timeout: a relation another session holds is skipped with a warning
 * (SQLSTATE 55P03) and sealed by the next run. Returns false when it was skipped.
 */
async function runStep(client: pg.ClientBase, step: VacuumStep, parentOnly: boolean): Promise<boolean> {
  const only = parentOnly && isTimeSeriesTable(step.relation) ? 'ONLY ' : '';
  const sql =
    step.action === 'seal'
      ? `VACUUM (FREEZE, ANALYZE, SKIP_LOCKED) ${quoteIdent(step.relation)}`
      : `ANALYZE (SKIP_LOCKED) ${only}${quoteIdent(step.relation)}`;
  let skipped = false;
  const onNotice = (notice: { code?: string }) => {
    if (notice.code === SQLSTATE.lockNotAvailable) skipped = true;
  };
  client.on('notice', onNotice);
  try {
    await client.query(sql);
  } finally {
    client.off('notice', onNotice);
  }
  return !skipped;
}

/**
 * Whether `ANALYZE ONLY parent` exists (PostgreSQL 18+). Before 18, ANALYZE of a partitioned
 * table also analyzes every partition: more work (a sample of each), but the same locks.
 */
async function analyzesParentOnly(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
  return (rows[0]?.v ?? 0) >= 180_000;
}

/** The report with its totals counted from its steps. */
function withTotals(report: VacuumReport): VacuumReport {
  const done = report.steps.filter((step) => step.status === 'done');
  return {
    ...report,
    partitions_sealed: done.filter((step) => step.action === 'seal').length,
    tables_analyzed: done.filter((step) => step.action === 'analyze').length,
  };
}
