import type * as z from 'zod';
import type { ArchiveSettings } from './archive/store';
import type { OperationContext } from './context';
import type { RequiredRole } from './db/privileges';
import type { LoginPurpose } from './logins';
import type { DatabaseMetric, ExchangeMetric, MetricsOptions, TableMetric } from './metric-names';

/**
 * What the registry (functions/operations/registry.ts) knows of one operation. The Lambda handler, its bundle,
 * the stack's function, the metrics and the runner's command are all built from this.
 */
export interface OperationDefinition<
  Payload extends Record<string, unknown>,
  Report extends { operation: string },
  Metrics extends ReportMetrics = ReportMetrics,
> {
  /**
   * The one name: the handler bundle `dist/<id>/`, the CLI command, the CDK construct and the
   * `Operation` metric dimension.
   */
  readonly id: Report['operation'];
  /** The payload every entry point checks: unknown keys rejected, every problem reported at once. */
  readonly payload: z.ZodType<Payload>;
  /**
   * Checks of an accepted payload against the entry point's settings that need no database
   * (archive: a store is configured, the day asked for is over); throws InputError. The
   * handler runs it before connecting, so such input is refused without touching the server.
   */
  preflight?(payload: Payload, settings: { archive: ArchiveSettings | undefined; now: Date }): void | Promise<void>;
  /** The operation itself, given a payload this definition's `payload` schema accepted. */
  run(ctx: OperationContext, payload: Payload): Promise<Report>;
  /** The report's metrics (a failed run's partial report publishes its counts too), as the deployment asks for them. */
  metrics(report: Report, options: MetricsOptions): Metrics;
  /** Payload fields the stack fills from environment variables. */
  readonly defaults?: PayloadDefaults;
  /**
   * The login it needs, checked before it runs (default `owner`: it creates, alters or drops
   * tables); `reader` for an operation that only reads.
   */
  readonly runsAs?: RequiredRole;
  /** Payloads that destroy data run only with the database name as `confirm`. */
  readonly confirmation?: Confirmation;
  /**
   * Whether a run of this payload (scheduled defaults filled in) deletes, drops or replaces rows.
   * The runner refuses such a run while `.env` and the environment name different databases
   * (unless `--database-url` names the target): a `.env` left behind must not empty the wrong one.
   */
  destroysData?(payload: Payload): boolean;
  readonly cli: CommandLine;
  /** How the stack deploys it: the function's limits, retries, login, schedule and environment. */
  readonly deploy: Deploy;
}

/**
 * What a deployment decides that a definition's deploy data reads (the stack's StackConfig has
 * these fields): retention, the window of days, the archive, the stats' storage limit.
 */
export interface Deployment {
  daysAhead: number;
  deleteRowsOlderThanDays: number | undefined;
  dropPartitionsOlderThanDays: number | undefined;
  storageLimitBytes: number | undefined;
  dataAgeAlarmSeconds: number | undefined;
  archive: { afterDays: number } | undefined;
}

/** One schedule (UTC cron fields), its payload, and how hard EventBridge Scheduler tries to deliver it. */
export interface ScheduleData {
  cron: { minute: string; hour: string };
  input: Record<string, unknown>;
  retryAttempts: number;
  maxEventAgeMinutes: number;
}

/** An operation's function as the stack builds it (infra/constructs/functions.ts, schedules.ts): data only, no CDK. */
export interface Deploy {
  timeoutMinutes: number;
  /** MB; the stack's default without it. Lambda's CPU share grows with it (1,769 MB is one vCPU). */
  memoryMb?: number;
  /** Reserved with `-c reservedConcurrency=true` only; undefined: never reserved. */
  reservedConcurrency: number | undefined;
  /** Lambda's own retries of an asynchronous (scheduled) invocation that failed, and how old an event may get. */
  retryAttempts: number;
  maxEventAgeMinutes: number;
  /** statement_timeout below the function timeout, so a slow query fails with a report, not a kill. */
  statementTimeoutSeconds?: number;
  /** The login it runs as (functions/shared/logins.ts): only migrate uses the master secret (its rotation aside). */
  login: 'master' | LoginPurpose;
  /** What it does with the archive bucket when archiving is on; none: it gets no access. */
  archiveAccess?: 'read' | 'write';
  /** Its schedule in a deployment; none: invoked by hand (or the deploy) only. */
  schedule?(deployment: Deployment): ScheduleData | undefined;
  /** The environment variables of its payload defaults in a deployment. */
  environment?(deployment: Deployment): Record<string, string>;
}

/**
 * The metrics of one report, as values: the registry entry computes them, the handler publishes
 * them. Per table at most: a dimension per symbol would be a billed metric per symbol (that
 * detail is in the log and the report instead).
 */
export interface ReportMetrics {
  /**
   * Dimension `Operation`, unit Count; also published for the partial report of a failed run.
   * Their names are the registry's OperationCount: an entry names its own. A zero is not
   * published: a count is billed only in the hours it has something to say.
   */
  readonly counts?: Readonly<Record<string, number>>;
  /** No dimension. */
  readonly database?: Partial<Record<DatabaseMetric, number>>;
  /** Dimension `Table`: one document per table. */
  readonly tables?: Readonly<Record<string, Partial<Record<TableMetric, number>>>>;
  /** Dimension `Exchange`: one document per exchange. */
  readonly exchanges?: Readonly<Record<string, Partial<Record<ExchangeMetric, number>>>>;
}

/**
 * Payload defaults set by the stack as environment variables of the function, so that a manual
 * `{}` invoke does what the schedule does. A payload naming any action field gets none of them:
 * a manual `{"olderThanDays": 30}` means exactly that, not that plus the scheduled defaults.
 */
export interface PayloadDefaults {
  /** Variable -> the payload field it fills and the variable's schema (text in; undefined: not set). */
  readonly variables: Readonly<Record<string, { field: string; schema: z.ZodType<number | undefined> }>>;
  readonly actionFields: readonly string[];
}

/**
 * A run that destroys data. Its payload carries `confirm`, the name of the database (a Lambda
 * payload says it; the runner previews with `dryRun`, then asks for it or takes `--yes`), and
 * the operation refuses to run unless it names the database it is connected to. The payload
 * schema of such an operation has `dryRun` and `confirm` fields, and its report names the
 * database it ran on (`database`).
 */
export interface Confirmation {
  /** The boolean payload field (and flag) asking for it: `truncate`. */
  readonly field: string;
  /** What it does, after the flag: "--truncate empties markets and every data table". */
  readonly effect: string;
  /** What `confirm` must hold, after `truncate needs "confirm": `. */
  readonly confirmWith: string;
}

/** A flag of a command: the payload field it sets. */
export interface Flag {
  readonly field: string;
  /**
   * `number`: takes a value, plain decimal digits; `size`: a number of bytes with an optional
   * binary unit (`500GiB`); `text`: takes a value, as given; `switch`: true when given.
   */
  readonly kind: 'number' | 'size' | 'text' | 'switch';
  /**
   * A local setting rather than a payload field: the runner sets this environment variable of
   * the handler to the value (a path made absolute), as the stack would set it in AWS
   * (`archive --to DIR` sets ARCHIVE_DIR).
   */
  readonly variable?: string;
}

/** How the local runner offers an operation. */
export interface CommandLine {
  /** Other names of the command (`clean` for prune); lists show the first, with the id after it. */
  readonly aliases?: readonly string[];
  readonly flags?: Readonly<Record<string, Flag>>;
  /**
   * --help: the synopsis (default: the names) and what it does, then a line per flag when given;
   * `<command> --help` adds the examples (argument lists after the command name) and the
   * environment variables this command reads besides the ones every command reads.
   */
  readonly usage: {
    readonly synopsis?: string;
    readonly summary: string;
    readonly flags?: readonly (readonly [string, string])[];
    readonly examples?: readonly string[];
    readonly environment?: readonly (readonly [string, string])[];
  };
}

/** Type-checks a registry entry; the registry keeps each entry's own payload and report types. */
export function defineOperation<
  Payload extends Record<string, unknown>,
  Report extends { operation: string },
  Metrics extends ReportMetrics = ReportMetrics,
>(definition: OperationDefinition<Payload, Report, Metrics>): OperationDefinition<Payload, Report, Metrics> {
  return definition;
}
