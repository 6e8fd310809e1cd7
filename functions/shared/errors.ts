/**
 * The error family of every operation. Entry points map these to exit codes (CLI) or to
 * retryable / final failures (Lambda) in exactly one place each; the core only throws.
 */
export class PerpsDbError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number = 1;
  /** Whether running the same thing again later may succeed. */
  readonly retryable: boolean = false;
  /** What was done before the failure, when the operation got that far. */
  readonly report?: unknown;

  constructor(message: string, options?: { cause?: unknown; report?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.report = options?.report;
  }
}

/** Bad flag, payload or configuration. Raised before anything in the database is touched. */
export class InputError extends PerpsDbError {
  override readonly exitCode = 2;
  readonly problems: string[];
  constructor(problems: string[] | string, options?: { cause?: unknown }) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.join('; '), options);
    this.problems = list;
  }
}

/** The database cannot be reached or refuses our credentials. */
export class DatabaseUnavailableError extends PerpsDbError {
  override readonly exitCode = 3;
  override readonly retryable = true;
}

/** Another run holds the maintenance lock. */
export class LockBusyError extends PerpsDbError {
  override readonly exitCode = 4;
  override readonly retryable = true;
}

/**
 * A step could not get its table locks within DB_LOCK_TIMEOUT_MS in DB_DDL_ATTEMPTS attempts: a
 * long transaction holds a conflicting lock. Nothing of the step was applied, and the next run
 * tries it again: like a busy maintenance lock, running again later is the remedy.
 */
export class LockTimeoutError extends PerpsDbError {
  override readonly exitCode = 4;
  override readonly retryable = true;
  constructor(
    readonly step: string,
    readonly attempts: number,
    readonly lockTimeoutMs: number,
    options: { cause?: unknown; report?: unknown },
  ) {
    super(
      `${step}: could not get its lock within ${lockTimeoutMs} ms in ${attempts} attempts; a long transaction probably holds a conflicting lock (see pg_locks); it will be retried on the next run`,
      options,
    );
  }

  /** The same error carrying the report of the run it stopped. */
  withReport(report: unknown): LockTimeoutError {
    return new LockTimeoutError(this.step, this.attempts, this.lockTimeoutMs, { cause: this.cause, report });
  }
}

/**
 * The login lacks a privilege the operation needs (another role is needed: the owner of the
 * tables, or perps_reader for stats). Checked before the operation starts, so nothing changed;
 * running it again as the same login fails the same way.
 */
export class InsufficientPrivilegeError extends PerpsDbError {
  override readonly exitCode = 6;
}

/** A migration failed, or the ledger and the migration files disagree. */
export class MigrationError extends PerpsDbError {
  override readonly exitCode = 5;
}

/**
 * An archived object is missing, unreadable, not shaped like its table, or disagrees with the
 * archive ledger or with the rows loaded from it. Nothing the operation would have changed was
 * changed (restore drops what it loaded); running again will fail the same way until the object
 * or the ledger is put right.
 */
export class ArchiveIntegrityError extends PerpsDbError {
  override readonly exitCode = 7;
}

/** Some tables were handled and some failed; `report` says which. */
export class PartialFailureError extends PerpsDbError {
  override readonly exitCode = 1;
}

/**
 * The run stopped between two steps because the Lambda deadline was near: what was done is in
 * `report`, nothing is half-done, and the next run carries on from there.
 */
export class DeadlineError extends PerpsDbError {
  override readonly exitCode = 1;
  override readonly retryable = true;
}
