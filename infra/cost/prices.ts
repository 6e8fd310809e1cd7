/**
 * Every price `npm run cost` uses, in one place: AWS list prices in us-east-1, on demand, in US
 * dollars, without any free tier except the dashboards' (noted below). Change a price here
 * and the report, docs/deploy.md "Costs" (a test holds them together) and the totals follow.
 */
export const PRICES_AS_OF = '2026-12-06';
export const PRICES_REGION = 'us-east-1';

/** Hours in the month AWS prices monthly figures on. */
export const HOURS_PER_MONTH = 730;

export const PRICES = {
  cloudwatch: {
    /**
     * A custom metric, per month, prorated by the hour and metered only for hours in which it
     * receives data: a metric published in 4 hours of each day costs 4/24 of this.
     */
    metricMonth: 0.3,
    /** A standard-resolution alarm, per metric in it (a metric-math alarm counts each metric). */
    alarmMetricMonth: 0.1,
    /** A high-resolution alarm (period under 60 s), per metric in it. */
    highResolutionAlarmMetricMonth: 0.3,
    compositeAlarmMonth: 0.5,
    /** A dashboard of more than FREE_DASHBOARD_METRICS metrics; up to 3 smaller ones per account are free. */
    dashboardMonth: 3,
    logIngestionGb: 0.5,
    logStorageGbMonth: 0.03,
  },
  /** An interface VPC endpoint, per availability zone and hour, and per GB it carries. */
  interfaceEndpointZoneHour: 0.01,
  interfaceEndpointGb: 0.01,
  secretsManager: { secretMonth: 0.4, per10kCalls: 0.05 },
  kmsKeyMonth: 1,
  lambda: { arm64GbSecond: 0.0000133334, perMillionRequests: 0.2 },
  schedulerPerMillionInvocations: 1,
  rds: {
    /** PostgreSQL, Single-AZ, per hour; Multi-AZ (one standby) is twice. Classes not listed here are reported as unpriced. */
    instanceHour: { 'db.t4g.micro': 0.016, 'db.t4g.small': 0.032, 'db.t4g.medium': 0.065 } as Record<string, number>,
    /** Per GB-month of allocated storage (gp3 includes 3,000 IOPS and 125 MB/s); Multi-AZ is twice. */
    storageGbMonth: { gp3: 0.115, gp2: 0.115 } as Record<string, number>,
    /** T4g instances run in unlimited mode: CPU above the baseline, averaged over 24 hours, per vCPU-hour. */
    cpuCreditVcpuHour: 0.075,
  },
  aurora: {
    /** Aurora Serverless v2 (Aurora Standard), per ACU-hour. */
    acuHour: 0.12,
    storageGbMonth: 0.1,
    perMillionIo: 0.2,
  },
  s3: { standardGbMonth: 0.023, glacierInstantRetrievalGbMonth: 0.004 },
} as const;

/** Where these figures come from (the AWS pricing pages, read for the date above). */
export const PRICE_SOURCES = [
  'https://aws.amazon.com/cloudwatch/pricing/',
  'https://aws.amazon.com/privatelink/pricing/',
  'https://aws.amazon.com/secrets-manager/pricing/',
  'https://aws.amazon.com/kms/pricing/',
  'https://aws.amazon.com/lambda/pricing/',
  'https://aws.amazon.com/eventbridge/pricing/',
  'https://aws.amazon.com/rds/postgresql/pricing/',
  'https://aws.amazon.com/rds/aurora/pricing/',
  'https://aws.amazon.com/s3/pricing/',
] as const;

/**
 * What the estimates assume where the template cannot say: bytes each invocation writes to
 * CloudWatch Logs (its log lines, EMF documents and Lambda's START/END/REPORT lines; the stats
 * figure is an upper bound a test measures over seven exchanges) and seconds each run lasts.
 */
export const USAGE_ASSUMPTIONS = {
  logBytesPerInvocation: { stats: 24_000, other: 8_000 },
  secondsPerRun: { stats: 1, partitions: 2, other: 60 },
  /** Each invocation reads the database secret once (a cold start at worst). */
  secretCallsPerInvocation: 1,
} as const;
