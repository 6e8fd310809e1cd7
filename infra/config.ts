import * as z from 'zod';
import { DAYS_AHEAD } from '../functions/operations/partitions/definition';
import { RETENTION_DAYS } from '../functions/operations/prune/definition';
import { ARCHIVE_AFTER_DAYS } from '../functions/shared/archive/layout';
import { InputError } from '../functions/shared/errors';
import { DEFAULT_METRICS_NAMESPACE, metricsNamespaceSchema } from '../functions/shared/metric-names';
import { listSchema, numberOrText, parseAll, portSchema } from '../functions/shared/parse';

export const DATABASE_KINDS = ['rds', 'aurora', 'existing'] as const;
export type DatabaseKind = (typeof DATABASE_KINDS)[number];

/** A new database: RDS PostgreSQL instance (default) or Aurora PostgreSQL Serverless v2. */
export interface NewDatabaseConfig {
  kind: 'rds' | 'aurora';
  deletionProtection: boolean;
  backupRetentionDays: number;
  /** RDS only: a Graviton instance type such as t4g.micro. */
  instanceType: string;
  /** RDS only: a standby in a second availability zone. */
  multiAz: boolean;
  /** Aurora only: Serverless v2 capacity range in ACUs. */
  minCapacity: number;
  maxCapacity: number;
  /** PostgreSQL engine version: MAJOR or MAJOR.MINOR for RDS, MAJOR.MINOR for Aurora. */
  engineVersion: string;
  /** Availability zones of the Secrets Manager interface endpoint (each $0.01 an hour). */
  endpointZones: EndpointZones;
}

/** An interface endpoint in one availability zone, or in two (it then outlives the loss of one). */
export type EndpointZones = 1 | 2;

/** A database that already exists: the stack only connects the functions to it. */
export interface ExistingDatabaseConfig {
  kind: 'existing';
  secretArn: string;
  /** The customer managed key that encrypts the secret, when it is not the AWS managed key. */
  secretKmsKeyArn: string | undefined;
  vpcId: string;
  subnetIds: string[];
  availabilityZones: string[];
  securityGroupId: string;
  port: number;
  /** Create a Secrets Manager interface endpoint: only for subnets with neither NAT nor an endpoint already. */
  createSecretsManagerEndpoint: boolean;
  /** Availability zones of that endpoint (the first subnets'). */
  endpointZones: EndpointZones;
  /** With archiving on: route tables to give an S3 gateway endpoint (empty: the VPC reaches S3 its own way). */
  s3EndpointRouteTableIds: string[];
}

/** The storage classes the archive's objects may move to (S3 API names). */
export const ARCHIVE_STORAGE_CLASSES = ['GLACIER_IR', 'STANDARD_IA'] as const;
export type ArchiveStorageClass = (typeof ARCHIVE_STORAGE_CLASSES)[number];
/** S3 keeps an object in STANDARD at least this long before a lifecycle rule may move it to STANDARD_IA. */
export const STANDARD_IA_MIN_DAYS = 30;

/** Archiving to S3 (see infra/constructs/archive.ts), when it is on. */
export interface ArchiveConfig {
  /** Days a closed day partition waits before the archive function exports it (ARCHIVE_AFTER_DAYS). */
  afterDays: number;
  /** When objects leave S3 Standard, and for which class; undefined: they stay in Standard. */
  transition: { storageClass: ArchiveStorageClass; afterDays: number } | undefined;
}

/** Everything the stack reads from CDK context, validated. */
export interface StackConfig {
  database: NewDatabaseConfig | ExistingDatabaseConfig;
  /** Reserve one concurrent execution for migrate, partitions, prune and vacuum each (opt-in). */
  reservedConcurrency: boolean;
  alarmEmail: string | undefined;
  /** Undefined: the data-age alarm is off. */
  dataAgeAlarmSeconds: number | undefined;
  daysAhead: number;
  /** Undefined: that retention action is off. */
  dropPartitionsOlderThanDays: number | undefined;
  deleteRowsOlderThanDays: number | undefined;
  metricsNamespace: string;
  /**
   * The storage the database may fill, for the stats' storage runway (DB_STORAGE_LIMIT_BYTES):
   * `storageLimitGiB`, else for a new RDS instance its storage autoscaling ceiling; undefined
   * (Aurora, which has no fixed limit, or an existing database) without the context key.
   */
  storageLimitBytes: number | undefined;
  /** Alarm when the storage runway is below this many days; undefined: off. */
  storageRunwayAlarmDays: number | undefined;
  /** Undefined: no archive bucket, no archive or restore function, and prune drops without asking for an archive. */
  archive: ArchiveConfig | undefined;
}

/** Storage autoscaling ceiling of the RDS instance the stack creates (GiB): the storage it may fill. */
export const RDS_MAX_ALLOCATED_STORAGE_GIB = 500;

/**
 * The engine version of a new database, by kind. RDS takes a major version and picks its default
 * minor. Aurora is pinned to a minor (what a major alone would pick is not documented for it),
 * and CDK's newest constant, 18.6, is not one AWS offers yet: 18.4 is the newest Aurora
 * PostgreSQL 18 in cfn-lint's August 2026 data (18, 18.3, 18.4).
 */
export const DEFAULT_ENGINE_VERSION = { rds: '18', aurora: '18.4' } as const;
/** PostgreSQL majors the functions are tested on (the version matrix). */
export const ENGINE_MAJORS = { min: 12, max: 18 } as const;

/**
 * The context keys, their defaults and what each does. `-c key=value` passes strings, cdk.json
 * passes JSON values: both are accepted.
 */
export const CONTEXT_KEYS = {
  database: 'rds (default) | aurora | existing',
  deletionProtection: 'true (default) | false: deletion protection of a new database',
  backupRetentionDays: 'automated backups of a new database, 1-35 days (default 7)',
  instanceType: 'rds: Graviton instance type (default t4g.micro)',
  multiAz: 'rds: standby in a second availability zone (default false)',
  auroraMinCapacity: 'aurora: minimum ACUs, 0-256 in steps of 0.5 (default 0.5)',
  auroraMaxCapacity: 'aurora: maximum ACUs, 1-256 in steps of 0.5 (default 4)',
  engineVersion: `rds: PostgreSQL MAJOR or MAJOR.MINOR (default ${DEFAULT_ENGINE_VERSION.rds}); aurora: MAJOR.MINOR (default ${DEFAULT_ENGINE_VERSION.aurora}); majors ${ENGINE_MAJORS.min}-${ENGINE_MAJORS.max}`,
  existingSecretArn: 'existing: complete ARN of the database secret (RDS shape), with its 6-character suffix',
  existingSecretKmsKeyArn: 'existing: ARN of the customer managed KMS key of that secret, if any',
  existingVpcId: 'existing: the VPC of the database',
  existingSubnetIds: 'existing: subnets for the functions, comma-separated, one per availability zone',
  existingAvailabilityZones: 'existing: the availability zones of those subnets, comma-separated, same order',
  existingSecurityGroupId: "existing: the database's security group; the stack adds an ingress rule from the functions",
  existingPort: 'existing: the database port (default 5432)',
  existingCreateSecretsManagerEndpoint: 'existing: create a Secrets Manager interface endpoint (default false)',
  secretsManagerEndpointZones:
    'availability zones of the Secrets Manager interface endpoint, 1 or 2 ($7.30 a month each; default 1, or 2 with multiAz=true)',
  existingS3EndpointRouteTableIds:
    'existing, with archive: route tables of the subnets, comma-separated, to which the stack adds an S3 gateway endpoint (default none: the VPC reaches S3 its own way)',
  reservedConcurrency:
    'true | false (default): reserve one concurrent execution each for migrate, partitions, prune, vacuum, archive and restore; needs an account concurrency quota of 106 or more (Lambda keeps 100 unreserved)',
  alarmEmail: 'e-mail address subscribed to the alarm topic (default none)',
  dataAgeAlarmSeconds:
    'alarm when the newest row of a table, or of every table of one exchange, is older than this (default 3600); off disables it',
  daysAhead: `partitions kept ahead, ${DAYS_AHEAD.min}-${DAYS_AHEAD.max} days (default ${DAYS_AHEAD.default})`,
  dropPartitionsOlderThanDays: 'prune: drop day partitions older than this (default 180); off disables it',
  deleteRowsOlderThanDays: 'prune: delete rows older than this (default off)',
  metricsNamespace: `CloudWatch namespace of the metrics (default ${DEFAULT_METRICS_NAMESPACE})`,
  storageLimitGiB: `the storage the database may fill, in GiB, for the storage runway (default: ${RDS_MAX_ALLOCATED_STORAGE_GIB}, the autoscaling ceiling, for a new RDS instance; none for aurora and existing)`,
  storageRunwayAlarmDays: 'alarm when the storage runway is below this many days (default 14); off disables it',
  archive:
    'true (default) | false: archive closed day partitions to an S3 bucket as Parquet before prune drops them (prune then refuses days without a verified archive)',
  archiveAfterDays: `archive: days a closed day partition waits before it is archived, ${ARCHIVE_AFTER_DAYS.min}-${ARCHIVE_AFTER_DAYS.max} (default ${ARCHIVE_AFTER_DAYS.default})`,
  archiveTransitionDays: 'archive: days after which objects move to archiveStorageClass (default 30); off keeps them in S3 Standard',
  archiveStorageClass: `archive: ${ARCHIVE_STORAGE_CLASSES.join(' (default) | ')}: the class objects move to (STANDARD_IA needs archiveTransitionDays of ${STANDARD_IA_MIN_DAYS} or more)`,
} as const;
export type ContextKey = keyof typeof CONTEXT_KEYS;

const OFF = ['off', 'false', 'none', 'disabled'];

const fromText = (value: unknown) => (typeof value === 'string' ? value.trim() : value);
/** A number from `-c key=value` text or a cdk.json number, in plain decimal as everywhere (`0x10`, `1e3` are refused). */
const whole = (min: number, max: number) =>
  numberOrText({ min, max, error: `must be a whole number from ${min} to ${max}`, stepError: 'must be a whole number' });
const halves = (min: number, max: number) =>
  numberOrText({ min, max, step: 0.5, error: `must be a number of ACUs from ${min} to ${max}`, stepError: 'must be a multiple of 0.5' });
/** A number, or off: `off`, `false`, `0` all disable. */
const optionalDays = (min: number, max: number) =>
  z.preprocess(
    (value) => (OFF.includes(String(value).toLowerCase()) || value === 0 || value === '0' ? null : value),
    whole(min, max).nullable(),
  );
const flag = z.preprocess(
  (value) => {
    const text = String(fromText(value)).toLowerCase();
    return text === 'true' ? true : text === 'false' ? false : value;
  },
  z.boolean({ error: 'must be true or false' }),
);
const list = (item: z.ZodString) => listSchema(item, { error: 'must be a comma-separated list', empty: 'must list at least one' });

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/;
const ENGINE_VERSION = /^\d+(\.\d+)?$/;
const GRAVITON = /^[a-z]+\d+g[a-z]*\.[a-z0-9]+$/;

const contextSchema = z.strictObject({
  database: z.enum(DATABASE_KINDS, { error: `must be one of ${DATABASE_KINDS.join(', ')}` }).default('rds'),
  deletionProtection: flag.default(true),
  backupRetentionDays: whole(1, 35).default(7),
  instanceType: z
    .string()
    .regex(GRAVITON, { error: 'must be a Graviton instance type such as t4g.micro, m7g.large or r8g.xlarge' })
    .default('t4g.micro'),
  multiAz: flag.default(false),
  auroraMinCapacity: halves(0, 256).default(0.5),
  auroraMaxCapacity: halves(1, 256).default(4),
  // A string even in cdk.json: as a JSON number, 17.10 would arrive as 17.1.
  engineVersion: z
    .string({ error: 'must be a version such as "18" or "18.4" (quoted in cdk.json)' })
    .regex(ENGINE_VERSION, { error: 'must be MAJOR or MAJOR.MINOR, such as 18 or 18.4' })
    .optional(),
  existingSecretArn: z
    .string()
    .regex(SECRET_ARN, { error: 'must be the complete secret ARN, ending in the 6-character suffix Secrets Manager adds (-AbCdEf)' })
    .optional(),
  existingSecretKmsKeyArn: z.string().regex(KMS_KEY_ARN, { error: 'must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)' }).optional(),
  existingVpcId: z
    .string()
    .regex(/^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/, { error: 'must be a VPC id (vpc- and 8 or 17 hex digits)' })
    .optional(),
  existingSubnetIds: list(
    z.string().regex(/^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/, { error: 'must be subnet ids (subnet- and 8 or 17 hex digits)' }),
  ).optional(),
  existingAvailabilityZones: list(
    z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, { error: 'must be availability zones (eu-west-1a)' }),
  ).optional(),
  existingSecurityGroupId: z
    .string()
    .regex(/^sg-([0-9a-f]{8}|[0-9a-f]{17})$/, { error: 'must be a security group id (sg- and 8 or 17 hex digits)' })
    .optional(),
  existingPort: portSchema().default(5432),
  existingCreateSecretsManagerEndpoint: flag.default(false),
  secretsManagerEndpointZones: z
    .preprocess(fromText, z.union([z.literal(1), z.literal(2), z.literal('1'), z.literal('2')], { error: 'must be 1 or 2' }))
    .transform((zones) => Number(zones) as EndpointZones)
    .optional(),
  existingS3EndpointRouteTableIds: list(
    z.string().regex(/^rtb-([0-9a-f]{8}|[0-9a-f]{17})$/, { error: 'must be route table ids (rtb- and 8 or 17 hex digits)' }),
  ).optional(),
  reservedConcurrency: flag.default(false),
  alarmEmail: z.email({ error: 'must be an e-mail address' }).optional(),
  dataAgeAlarmSeconds: optionalDays(60, 7 * 86_400).default(3600),
  daysAhead: whole(DAYS_AHEAD.min, DAYS_AHEAD.max).default(DAYS_AHEAD.default),
  dropPartitionsOlderThanDays: optionalDays(RETENTION_DAYS.min, RETENTION_DAYS.max).default(180),
  deleteRowsOlderThanDays: optionalDays(RETENTION_DAYS.min, RETENTION_DAYS.max).default(null),
  metricsNamespace: metricsNamespaceSchema,
  storageLimitGiB: whole(1, 1_048_576).optional(),
  storageRunwayAlarmDays: optionalDays(1, 3650).default(14),
  archive: flag.default(true),
  archiveAfterDays: whole(ARCHIVE_AFTER_DAYS.min, ARCHIVE_AFTER_DAYS.max).default(ARCHIVE_AFTER_DAYS.default),
  archiveTransitionDays: optionalDays(1, 36_500).default(30),
  archiveStorageClass: z
    .enum(ARCHIVE_STORAGE_CLASSES, { error: `must be one of ${ARCHIVE_STORAGE_CLASSES.join(', ')}` })
    .default('GLACIER_IR'),
});

const ARCHIVE_KEYS = ['archiveAfterDays', 'archiveTransitionDays', 'archiveStorageClass'] as const satisfies readonly ContextKey[];

const EXISTING_REQUIRED = [
  'existingSecretArn',
  'existingVpcId',
  'existingSubnetIds',
  'existingAvailabilityZones',
  'existingSecurityGroupId',
] as const satisfies readonly ContextKey[];

/**
 * Reads the stack's context keys (see CONTEXT_KEYS) and validates them. Throws one InputError
 * naming every bad value, what it must be, and how to pass it, before anything is synthesized.
 * Context keys that are not ours (CDK's own `@aws-cdk/...` flags, `aws:cdk:...`) are ignored.
 */
export function parseStackConfig(context: Record<string, unknown>): StackConfig {
  const ours = Object.fromEntries(
    Object.entries(context).filter(([key, value]) => !key.includes(':') && !key.startsWith('@') && value !== undefined && value !== ''),
  );
  const { data: c, problems } = parseAll(contextSchema, ours);
  // Cross-key checks read the raw values, so they are reported alongside any bad value.
  if ((ours.database ?? 'rds') === 'existing') {
    for (const key of EXISTING_REQUIRED) if (ours[key] === undefined) problems.push(`${key}: required with database=existing`);
    const subnets = c?.existingSubnetIds?.length;
    const zones = c?.existingAvailabilityZones?.length;
    if (subnets !== undefined && zones !== undefined && subnets !== zones) {
      problems.push(
        `existingAvailabilityZones: lists ${zones} zones for ${subnets} subnets: give the zone of each subnet, in the same order`,
      );
    }
    if (ours.engineVersion !== undefined) problems.push('engineVersion: only used with a new database (rds or aurora): remove it');
    if (ours.secretsManagerEndpointZones !== undefined && c?.existingCreateSecretsManagerEndpoint !== true) {
      problems.push('secretsManagerEndpointZones: only used with existingCreateSecretsManagerEndpoint=true: add it or remove this key');
    }
  } else {
    const stray = EXISTING_REQUIRED.filter((key) => ours[key] !== undefined);
    if (stray.length > 0) problems.push(`${stray.join(', ')}: only used with database=existing: add -c database=existing or remove them`);
    if (c && c.auroraMinCapacity > c.auroraMaxCapacity) problems.push('auroraMinCapacity: must not exceed auroraMaxCapacity');
    const version = ours.engineVersion;
    if (typeof version === 'string' && ENGINE_VERSION.test(version)) {
      problems.push(...engineVersionProblems(ours.database === 'aurora' ? 'aurora' : 'rds', version));
    }
  }
  problems.push(...archiveProblems(ours, c));
  if (!c || problems.length > 0) {
    throw new InputError(problems);
  }
  return {
    database:
      c.database === 'existing'
        ? {
            kind: 'existing',
            secretArn: c.existingSecretArn ?? '',
            secretKmsKeyArn: c.existingSecretKmsKeyArn,
            vpcId: c.existingVpcId ?? '',
            subnetIds: c.existingSubnetIds ?? [],
            availabilityZones: c.existingAvailabilityZones ?? [],
            securityGroupId: c.existingSecurityGroupId ?? '',
            port: c.existingPort,
            createSecretsManagerEndpoint: c.existingCreateSecretsManagerEndpoint,
            endpointZones: c.secretsManagerEndpointZones ?? 1,
            s3EndpointRouteTableIds: [...new Set(c.existingS3EndpointRouteTableIds ?? [])],
          }
        : {
            kind: c.database,
            deletionProtection: c.deletionProtection,
            backupRetentionDays: c.backupRetentionDays,
            instanceType: c.instanceType,
            multiAz: c.multiAz,
            minCapacity: c.auroraMinCapacity,
            maxCapacity: c.auroraMaxCapacity,
            engineVersion: c.engineVersion ?? DEFAULT_ENGINE_VERSION[c.database],
            // The database is single-AZ by default: an endpoint in a second zone would outlive nothing.
            endpointZones: c.secretsManagerEndpointZones ?? (c.multiAz ? 2 : 1),
          },
    reservedConcurrency: c.reservedConcurrency,
    alarmEmail: c.alarmEmail,
    dataAgeAlarmSeconds: c.dataAgeAlarmSeconds ?? undefined,
    daysAhead: c.daysAhead,
    dropPartitionsOlderThanDays: c.dropPartitionsOlderThanDays ?? undefined,
    deleteRowsOlderThanDays: c.deleteRowsOlderThanDays ?? undefined,
    metricsNamespace: c.metricsNamespace,
    storageLimitBytes: storageLimitBytesOf(c.database, c.storageLimitGiB),
    storageRunwayAlarmDays: c.storageRunwayAlarmDays ?? undefined,
    archive: c.archive
      ? {
          afterDays: c.archiveAfterDays,
          transition:
            c.archiveTransitionDays === null ? undefined : { storageClass: c.archiveStorageClass, afterDays: c.archiveTransitionDays },
        }
      : undefined,
  };
}

/**
 * The archive keys that contradict each other or prune. Raw values decide whether a key was
 * given; parsed ones (when every key parsed) are compared.
 */
function archiveProblems(ours: Record<string, unknown>, c: z.infer<typeof contextSchema> | undefined): string[] {
  if (!c) return [];
  if (ours.existingS3EndpointRouteTableIds !== undefined && c.database !== 'existing') {
    return ['existingS3EndpointRouteTableIds: only used with database=existing (a new VPC gets its S3 endpoint anyway): remove it'];
  }
  if (!c.archive) {
    const stray = [...ARCHIVE_KEYS, 'existingS3EndpointRouteTableIds' as const].filter((key) => ours[key] !== undefined);
    return stray.length > 0 ? [`${stray.join(', ')}: only used with archive=true: remove them, or remove archive=false`] : [];
  }
  const problems: string[] = [];
  if (c.archiveTransitionDays === null && ours.archiveStorageClass !== undefined) {
    problems.push('archiveStorageClass: unused with archiveTransitionDays=off (objects stay in S3 Standard): remove one of them');
  }
  if (c.archiveStorageClass === 'STANDARD_IA' && c.archiveTransitionDays !== null && c.archiveTransitionDays < STANDARD_IA_MIN_DAYS) {
    problems.push(
      `archiveTransitionDays: S3 moves objects to STANDARD_IA only after ${STANDARD_IA_MIN_DAYS} days or more: raise it, or use GLACIER_IR`,
    );
  }
  if (c.dropPartitionsOlderThanDays !== null && c.dropPartitionsOlderThanDays <= c.archiveAfterDays) {
    problems.push(
      `dropPartitionsOlderThanDays: ${c.dropPartitionsOlderThanDays} days is not more than archiveAfterDays (${c.archiveAfterDays}): prune would reach days before they are archived and refuse to drop them; raise it or lower archiveAfterDays`,
    );
  }
  return problems;
}

function storageLimitBytesOf(database: string, givenGiB: number | undefined): number | undefined {
  const gib = givenGiB ?? (database === 'rds' ? RDS_MAX_ALLOCATED_STORAGE_GIB : undefined);
  return gib === undefined ? undefined : gib * 1024 ** 3;
}

/**
 * What is wrong with an engine version for this kind of database. Which minors a region offers
 * changes monthly, so only the shape and the major are checked here; the deploy's error names
 * a version AWS does not offer.
 */
function engineVersionProblems(kind: 'rds' | 'aurora', version: string): string[] {
  const [major, minor] = version.split('.').map(Number);
  const problems: string[] = [];
  if (major === undefined || major < ENGINE_MAJORS.min || major > ENGINE_MAJORS.max) {
    problems.push(
      `engineVersion: PostgreSQL ${major} is not one this project is tested on: use a major from ${ENGINE_MAJORS.min} to ${ENGINE_MAJORS.max}`,
    );
  }
  if (kind === 'aurora' && minor === undefined) {
    problems.push(
      `engineVersion: Aurora needs MAJOR.MINOR, such as ${DEFAULT_ENGINE_VERSION.aurora}: aws rds describe-db-engine-versions --engine aurora-postgresql lists the region's versions`,
    );
  }
  return problems;
}

/** The message printed when the context is bad: every problem, then how to pass context. */
export function describeConfigError(error: InputError): string {
  return [
    'perps-stats-db: bad CDK context, nothing was synthesized:',
    ...error.problems.map((problem) => `  - ${problem}`),
    'Pass context as `npx cdk synth -c key=value` or in cdk.json "context"; the keys are listed in docs/deploy.md.',
  ].join('\n');
}
