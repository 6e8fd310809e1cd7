import type pg from 'pg';
import type { ArchiveSettings } from './archive/store';
import type { MaintenanceSettings } from './db/settings';
import type { Logger } from './log';
import type { ManagedLogins } from './logins';
import type { ProgressReporter } from './progress';

/** What every operation is given by its entry point: the database, a clock and a logger. */
export interface OperationContext {
  pool: pg.Pool;
  log: Logger;
  /** The current instant; injected so tests can pin "today". */
  now: () => Date;
  settings: MaintenanceSettings;
  /** Progress of long work, as events (see progress.ts); each entry point renders them its way. */
  progress?: ProgressReporter;
  /** Told each step's name as the step starts (see assertTimeForStep): the tests' fault points strike by step. */
  onStep?: (step: string) => void;
  /** Time left before the invocation is killed (Lambda); absent means no deadline. */
  timeLeftMs?: () => number;
  /** Where archives are written and read (ARCHIVE_*): archive, restore and prune use it. */
  archive?: ArchiveSettings;
  /** The function logins migrate makes from their secrets (AWS: DB_MAINTENANCE_SECRET_ARN, DB_STATS_SECRET_ARN); absent: none. */
  logins?: ManagedLogins;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
