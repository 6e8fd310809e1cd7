import { createHash } from 'node:crypto';
import pg from 'pg';
import { currentDatabase } from '../../shared/catalog';
import { errorMessage, type OperationContext } from '../../shared/context';
import { runWithLockTimeout } from '../../shared/db/locks';
import { connectionLostError, withAdvisoryLock, withClient } from '../../shared/db/sessions';
import { isConnectionFailure, sqlState } from '../../shared/db/sql-errors';
import { assertTimeForStep } from '../../shared/deadline';
import { LockTimeoutError, MigrationError } from '../../shared/errors';
import { EMBEDDED_MIGRATIONS } from './embedded-migrations';
import { checkManagedLogins, ensureLogins, type LoginOutcome } from './logins';
import { grantGroupRoles, type RoleGrant, type RoleRevoke } from './role-grants';

/** A migration as shipped: file name and SQL text. */
export interface MigrationSource {
  name: string;
  sql: string;
}

export interface MigrationResult {
  name: string;
  /** `pending`: not run because the run stopped at its deadline first. */
  status: 'applied' | 'already_applied' | 'failed' | 'pending';
  duration_ms?: number;
  error?: string;
}

export interface MigrateReport {
  operation: 'migrate';
  database: string;
  applied: number;
  migrations: MigrationResult[];
  /** NOTICEs raised by the migrations, for example that roles were skipped. */
  notices: string[];
  /** Privileges this run granted to perps_reader and perps_writer (see role-grants.ts). */
  grants: RoleGrant[];
  /** Privileges this run took back: perps_writer's INSERT beyond ingestion, PUBLIC's CONNECT (see role-grants.ts). */
  revokes: RoleRevoke[];
  /**
   * Migrations the ledger records that this build does not have, all newer than its last file:
   * a newer build migrated the database (a rollback runs the old function version). Then
   * nothing is applied or granted, and a notice names them. 0 normally.
   */
  ahead_by: number;
  /** With login secrets configured only: the function logins this run made or brought in step (see logins.ts). */
  logins?: LoginOutcome[];
  /** With login secrets configured only: objects handed to the maintenance login by this run. */
  ownership_moved?: number;
}

export interface MigrateInput {
  /** Defaults to the migrations embedded at build time. */
  migrations?: readonly MigrationSource[];
}

/** The ledger of applied migrations. */
const LEDGER_TABLE = 'perps_schema_migrations';

export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/**
 * Applies pending migrations in name order, each in its own transaction together with its
 * ledger row. Runners are serialised by the maintenance advisory lock: a second concurrent
 * run waits, then finds nothing to do. Refuses to run when an applied file was edited, an
 * applied file is missing, or a new file sorts before one already applied.
 *
 * A database ahead of this build (the ledger ends with files newer than all of this build's,
 * every one of its own applied unedited) is no failure: the report says so (`ahead_by`, and a
 * notice) and nothing changes. CloudFormation's rollback of a deploy runs the previous function
 * version through the deploy trigger, and that version must not fail the rollback.
 */
export async function migrate(ctx: OperationContext, input: MigrateInput = {}): Promise<MigrateReport> {
  // Code-unit order, the same order checkLedger compares in.
  const migrations = [...(input.migrations ?? EMBEDDED_MIGRATIONS)].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return withClient(ctx.pool, async (client) => {
    const database = await currentDatabase(client);
    // Logins that cannot be made as their secrets ask are refused before anything is applied.
    if (ctx.logins) await checkManagedLogins(client, ctx.logins);
    const report: MigrateReport = {
      operation: 'migrate',
      database,
      applied: 0,
      migrations: [],
      notices: [],
      grants: [],
      revokes: [],
      ahead_by: 0,
    };
    // Only NOTICEs raised by migration files are worth reporting (not "ledger already exists").
    let collecting = false;
    const onNotice = (notice: { message?: string }) => {
      if (collecting && notice.message) report.notices.push(notice.message);
    };
    client.on('notice', onNotice);
    try {
      await withAdvisoryLock(client, 'migrate', { wait: true, timeoutMs: ctx.settings.migrateLockWaitMs }, async () => {
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
             name text PRIMARY KEY,
             checksum text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now(),
             duration_ms integer NOT NULL
           )`,
        );
        const applied = await readLedger(client);
        const { pending, ahead } = checkLedger(migrations, applied);
        for (const migration of migrations) {
          if (!pending.includes(migration)) report.migrations.push({ name: migration.name, status: 'already_applied' });
        }
        if (ahead.length > 0) {
          // Nothing pending here (checkLedger refuses a pending file older than an applied one),
          // and the grants belong to the newer build, which may have changed them: change nothing.
          report.ahead_by = ahead.length;
          const notice = `the database is ahead of this build by ${ahead.length} migration${ahead.length > 1 ? 's' : ''} (${ahead.join(', ')}), applied by a newer build: nothing was applied or granted; run the build that includes ${ahead.length > 1 ? 'them' : 'it'} (a deploy rollback runs the older build: this is expected there)`;
          report.notices.push(notice);
          ctx.log.warn('database ahead of this build', { aheadBy: ahead.length, migrations: ahead });
          return;
        }
        for (const [index, migration] of pending.entries()) {
          assertTimeForStep(ctx, `migration ${migration.name}`, () => {
            for (const left of pending.slice(index)) report.migrations.push({ name: left.name, status: 'pending' });
            return report;
          });
          const started = performance.now();
          collecting = true;
          try {
            // Under lock_timeout with retries like every other DDL, so a migration waiting
            // behind a long transaction never queues ingestion behind it.
            await runWithLockTimeout(client, `migration ${migration.name}`, ctx.settings, ctx.log, async () => {
              await client.query(migration.sql);
              await client.query(`INSERT INTO ${LEDGER_TABLE} (name, checksum, duration_ms) VALUES ($1, $2, $3)`, [
                migration.name,
                checksumOf(migration.sql),
                Math.round(performance.now() - started),
              ]);
            });
          } catch (error) {
            const message = describeSqlError(migration, error);
            report.migrations.push({ name: migration.name, status: 'failed', error: message });
            // Not the migration's fault: a lost session (even at COMMIT, the ledger tells) is retryable.
            if (isConnectionFailure(error)) throw connectionLostError('migrate', client, error, report);
            // Nor is a lock a long transaction held past every attempt: nothing of the file was
            // applied, and the next run (deploy or invoke) applies it, as the message says.
            if (error instanceof LockTimeoutError) throw error.withReport(report);
            throw new MigrationError(message, { cause: error, report });
          } finally {
            collecting = false;
          }
          const duration = Math.round(performance.now() - started);
          report.migrations.push({ name: migration.name, status: 'applied', duration_ms: duration });
          report.applied++;
          ctx.log.info('migration applied', { migration: migration.name, durationMs: duration });
        }
        const reportSoFar = () => report;
        // Before the grants: they then cover what the maintenance login owns, through its membership.
        if (ctx.logins && Object.keys(ctx.logins).length > 0)
          Object.assign(report, await ensureLogins(client, ctx, ctx.logins, reportSoFar));
        Object.assign(report, await grantGroupRoles(client, ctx, { ledger: LEDGER_TABLE, notices: report.notices, reportSoFar }));
      });
    } finally {
      client.off('notice', onNotice);
    }
    return report;
  });
}

async function readLedger(client: pg.ClientBase): Promise<Map<string, string>> {
  const { rows } = await client.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM ${LEDGER_TABLE} ORDER BY name`);
  return new Map(rows.map((row) => [row.name, row.checksum]));
}

/**
 * Returns the pending migrations, and the applied ones this build has no file for that sort
 * after all of its files (the database is ahead); throws when the ledger and the files disagree.
 * `migrations` is sorted.
 */
function checkLedger(migrations: MigrationSource[], applied: Map<string, string>): { pending: MigrationSource[]; ahead: string[] } {
  const byName = new Map(migrations.map((m) => [m.name, m]));
  const lastFile = migrations.at(-1)?.name;
  const ahead: string[] = [];
  for (const [name, checksum] of applied) {
    const file = byName.get(name);
    if (!file && lastFile !== undefined && name > lastFile) {
      ahead.push(name);
      continue;
    }
    if (!file) {
      throw new MigrationError(
        `migration ${name} is recorded as applied but this build has no such file; deploy a build that includes it (migrations are forward-only, never delete one)`,
      );
    }
    if (checksumOf(file.sql) !== checksum) {
      throw new MigrationError(
        `migration ${name} was edited after it was applied (ledger sha256 ${checksum.slice(0, 12)}…, file ${checksumOf(file.sql).slice(0, 12)}…); restore the file and put the change in a new migration`,
      );
    }
  }
  const lastApplied = [...applied.keys()].sort().at(-1);
  const pending = migrations.filter((m) => !applied.has(m.name));
  const early = lastApplied ? pending.find((m) => m.name < lastApplied) : undefined;
  if (early && lastApplied) {
    throw new MigrationError(
      `migration ${early.name} sorts before ${lastApplied}, which is already applied; rename it so it sorts after ${lastApplied}`,
    );
  }
  return { pending, ahead };
}

/** "0001_x.sql line 12, column 3: relation ... does not exist" from a PostgreSQL error. */
function describeSqlError(migration: MigrationSource, error: unknown): string {
  const pgError = error instanceof pg.DatabaseError ? error : undefined;
  let where = '';
  const position = Number(pgError?.position);
  if (Number.isInteger(position) && position > 0) {
    const before = migration.sql.slice(0, position - 1);
    const line = before.split('\n').length;
    const column = position - before.lastIndexOf('\n') - 1;
    where = ` line ${line}, column ${column}`;
  }
  const context = pgError?.where ? ` (${pgError.where.split('\n')[0]})` : '';
  const state = sqlState(error);
  const code = state ? ` [SQLSTATE ${state}]` : '';
  return `migration ${migration.name}${where} failed: ${errorMessage(error)}${code}${context}; nothing of this file was applied`;
}
