import * as z from 'zod';
import { OPERATION_IDS, OPERATIONS, type OperationId } from '../operations/registry';
import { ARCHIVE_VARIABLES, DEFAULT_ARCHIVE_PREFIX } from '../shared/archive/layout';
import type { ArchiveSettings } from '../shared/archive/store';
import { DEFAULT_CONNECTION_SETTINGS, DEFAULT_MAINTENANCE_SETTINGS, type MaintenanceSettings, urlProblem } from '../shared/db/settings';
import type { LoginPurpose } from '../shared/logins';
import { type MetricsOptions, metricsNamespaceSchema } from '../shared/metric-names';
import { numberOrText, parseOrThrow } from '../shared/parse';
import type { DefaultValues } from './event';

/** Where the handler finds its database: a Secrets Manager secret (AWS) or a URL (local runner, non-AWS use). */
export type DatabaseSource = { kind: 'secret'; secretArn: string } | { kind: 'url'; url: string };

const SSL_MODES = ['disable', 'require', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Everything a handler reads from its environment, validated once, every problem reported together. */
export interface HandlerEnvironment {
  source: DatabaseSource;
  /** Undefined: verify-full for a secret's non-loopback host, the URL's own sslmode for a URL. */
  ssl: SslMode | undefined;
  /** Extra PEM certificates trusted for verify-full (a private CA); the RDS bundle is always trusted. */
  sslCaFile: string | undefined;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  maintenance: MaintenanceSettings;
  metricsNamespace: string;
  /** What the stats metrics include beyond the report (STATS_DATA_AGE_METRICS). */
  metricsOptions: MetricsOptions;
  /** Shown in pg_stat_activity: the Lambda function's name, or the operation's. */
  functionName: string | undefined;
  /** Payload defaults the stack sets, per operation (see each registry entry's `defaults`). */
  defaults: Partial<Record<OperationId, DefaultValues>>;
  /** Where archives go (ARCHIVE_*); neither bucket nor directory: archiving is not configured. */
  archive: ArchiveSettings;
  /** The secrets of the function logins migrate makes (the stack sets them on migrate only); none: no logins. */
  loginSecrets: Partial<Record<LoginPurpose, string>>;
}

/** PostgreSQL's timeouts and Node's timers both stop at 2^31 - 1 ms; beyond it a value is refused late or silently cut to 1 ms. */
const MAX_MS = 2_147_483_647;
const MAX_DDL_ATTEMPTS = 10;
const MAX_BATCH_SIZE = 1_000_000;
/** Each partition in a drop group adds ~1.5 ms to the hold of the parent (see DROP_GROUP_SIZE): 50 is ~75 ms and more. */
const MAX_DROP_GROUP_SIZE = 50;

/** A whole number from an environment variable; `1e3` or `0x10` in a timeout is a typo more often than a wish. */
const whole = (min: number, max: number, unit = '') =>
  numberOrText({ min, max, error: `must be a whole number${unit && ` of ${unit}`} from ${min} to ${max}` });

/** Every operation's default variables (PARTITIONS_DAYS_AHEAD, PRUNE_OLDER_THAN_DAYS, ...), checked by every handler. */
const DEFAULT_VARIABLES = Object.fromEntries(
  Object.values(OPERATIONS).flatMap((operation) =>
    Object.entries(operation.defaults?.variables ?? {}).map(([variable, { schema }]) => [variable, schema]),
  ),
);

const environmentSchema = z.object({
  DATABASE_URL: z.string().optional(),
  DB_SECRET_ARN: z.string().startsWith('arn:', { error: 'must be a secret ARN (arn:aws:secretsmanager:...)' }).optional(),
  DB_MAINTENANCE_SECRET_ARN: z.string().startsWith('arn:', { error: 'must be a secret ARN (arn:aws:secretsmanager:...)' }).optional(),
  DB_STATS_SECRET_ARN: z.string().startsWith('arn:', { error: 'must be a secret ARN (arn:aws:secretsmanager:...)' }).optional(),
  DB_SSL: z.enum(SSL_MODES, { error: `must be one of ${SSL_MODES.join(', ')}` }).optional(),
  DB_SSL_CA_FILE: z.string().optional(),
  DB_CONNECT_TIMEOUT_MS: whole(1, MAX_MS, 'milliseconds').default(DEFAULT_CONNECTION_SETTINGS.connectTimeoutMs),
  DB_STATEMENT_TIMEOUT_MS: whole(0, MAX_MS, 'milliseconds').default(DEFAULT_CONNECTION_SETTINGS.statementTimeoutMs),
  DB_LOCK_TIMEOUT_MS: whole(1, MAX_MS, 'milliseconds').default(DEFAULT_MAINTENANCE_SETTINGS.lockTimeoutMs),
  // The backoff doubles per attempt: 10 attempts can already wait minutes, more would outlast a Lambda.
  DB_DDL_ATTEMPTS: whole(1, MAX_DDL_ATTEMPTS).default(DEFAULT_MAINTENANCE_SETTINGS.ddlAttempts),
  // A batch is one transaction holding its row locks: a million rows is already a long one.
  MAINTENANCE_BATCH_SIZE: whole(1, MAX_BATCH_SIZE, 'rows').default(DEFAULT_MAINTENANCE_SETTINGS.batchSize),
  MAINTENANCE_DROP_GROUP_SIZE: whole(1, MAX_DROP_GROUP_SIZE, 'partitions').default(DEFAULT_MAINTENANCE_SETTINGS.dropGroupSize),
  // Time kept back before the Lambda deadline: no step starts with less left (0: stop only when out of time).
  DEADLINE_RESERVE_MS: whole(0, MAX_MS, 'milliseconds').default(DEFAULT_MAINTENANCE_SETTINGS.deadlineReserveMs),
  METRICS_NAMESPACE: metricsNamespaceSchema,
  // The stack sets false when its data-age alarms are off: nothing reads those metrics then.
  STATS_DATA_AGE_METRICS: z.enum(['true', 'false'], { error: 'must be true or false' }).default('true'),
  [ARCHIVE_VARIABLES.bucket]: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: 'must be an S3 bucket name: 3-63 lowercase letters, digits, . or -' })
    .optional(),
  // Keys are <prefix>/<table>/day=...: a slash at either end would make an empty path segment, and
  // a `.` or `..` segment a key the ledger records one way while a directory store writes elsewhere.
  [ARCHIVE_VARIABLES.prefix]: z
    .string()
    .regex(/^[\w.=-]+(\/[\w.=-]+)*$/, { error: 'must be path segments of letters, digits, _ . = - joined by /, with no / at either end' })
    .refine((prefix) => !prefix.split('/').some((segment) => segment === '.' || segment === '..'), {
      error: 'must not have a . or .. segment: the key would name another folder than the one written',
    })
    .default(DEFAULT_ARCHIVE_PREFIX),
  [ARCHIVE_VARIABLES.endpointUrl]: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  [ARCHIVE_VARIABLES.directory]: z.string().optional(),
  // Set by Lambda, and shown as application_name: Lambda's own name rule keeps anything else out.
  AWS_LAMBDA_FUNCTION_NAME: z
    .string()
    .regex(/^[\w-]{1,64}$/, { error: 'must be a Lambda function name: 1-64 letters, digits, - or _' })
    .optional(),
  ...DEFAULT_VARIABLES,
});

/** The variables a handler reads (docs/configuration.md lists each; a test holds the two together). */
export const HANDLER_VARIABLES = Object.keys(environmentSchema.shape);

/** Reads and validates a handler's environment; throws one InputError listing every problem. */
export function parseHandlerEnvironment(env: Record<string, string | undefined>): HandlerEnvironment {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const e = parseOrThrow(environmentSchema, present, { also: () => sourceProblems(present) });
  return {
    source: e.DB_SECRET_ARN ? { kind: 'secret', secretArn: e.DB_SECRET_ARN } : { kind: 'url', url: e.DATABASE_URL ?? '' },
    ssl: e.DB_SSL,
    sslCaFile: e.DB_SSL_CA_FILE,
    connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
    maintenance: {
      ...DEFAULT_MAINTENANCE_SETTINGS,
      lockTimeoutMs: e.DB_LOCK_TIMEOUT_MS,
      ddlAttempts: e.DB_DDL_ATTEMPTS,
      batchSize: e.MAINTENANCE_BATCH_SIZE,
      dropGroupSize: e.MAINTENANCE_DROP_GROUP_SIZE,
      deadlineReserveMs: e.DEADLINE_RESERVE_MS,
    },
    metricsNamespace: e.METRICS_NAMESPACE,
    metricsOptions: { dataAge: e.STATS_DATA_AGE_METRICS === 'true' },
    functionName: e.AWS_LAMBDA_FUNCTION_NAME,
    defaults: defaultValues(e),
    archive: {
      bucket: e[ARCHIVE_VARIABLES.bucket],
      prefix: e[ARCHIVE_VARIABLES.prefix],
      endpointUrl: e[ARCHIVE_VARIABLES.endpointUrl],
      directory: e[ARCHIVE_VARIABLES.directory],
    },
    loginSecrets: {
      ...(e.DB_MAINTENANCE_SECRET_ARN ? { maintenance: e.DB_MAINTENANCE_SECRET_ARN } : {}),
      ...(e.DB_STATS_SECRET_ARN ? { stats: e.DB_STATS_SECRET_ARN } : {}),
    },
  };
}

/** Where the database is: exactly one of DB_SECRET_ARN and DATABASE_URL, and a URL that parses. */
function sourceProblems(present: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const urlIssue = present.DATABASE_URL === undefined ? undefined : urlProblem(present.DATABASE_URL);
  if (urlIssue) problems.push(`DATABASE_URL ${urlIssue}`);
  if (present.DATABASE_URL !== undefined && present.DB_SECRET_ARN !== undefined) {
    problems.push('DB_SECRET_ARN and DATABASE_URL are both set: set DB_SECRET_ARN in AWS, DATABASE_URL elsewhere, not both');
  } else if (present.DATABASE_URL === undefined && present.DB_SECRET_ARN === undefined) {
    problems.push('no database configured: set DB_SECRET_ARN (the RDS secret, in AWS) or DATABASE_URL');
  }
  return problems;
}

/** Each operation's defaults by payload field, from the parsed variables. */
function defaultValues(parsed: Record<string, unknown>): Partial<Record<OperationId, DefaultValues>> {
  return Object.fromEntries(
    OPERATION_IDS.map((id) => {
      const variables = Object.entries(OPERATIONS[id].defaults?.variables ?? {});
      return [id, Object.fromEntries(variables.map(([variable, { field }]) => [field, numberOrUndefined(parsed[variable])]))];
    }),
  );
}

const numberOrUndefined = (value: unknown) => (typeof value === 'number' ? value : undefined);
