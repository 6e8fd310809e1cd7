/**
 * What a synthesized template holds that has a price: alarms and the metrics in each, dashboards
 * and the metrics on each, interface endpoints and their zones, secrets, KMS keys, the database,
 * the functions and their schedules. Read from the CloudFormation JSON alone, so whatever
 * another change adds (a secret per login, a key) is counted without touching this file.
 */

type Resource = { Type: string; Properties?: Record<string, unknown> };
export type TemplateJson = { Resources?: Record<string, Resource> };

export interface ScheduleUsage {
  /** The operation it invokes (from the schedule's description, `perps-stats-db <op>`). */
  operation: string;
  /** When it runs each day, UTC [hour, minute]. */
  times: [number, number][];
}

export type DatabaseUsage =
  | { kind: 'rds'; instanceClass: string; storageGb: number; storageType: string; multiAz: boolean; vcpus: number }
  | { kind: 'aurora'; minAcu: number; maxAcu: number }
  | { kind: 'none' };

export interface StackUsage {
  alarms: { count: number; metrics: number; highResolutionMetrics: number; composite: number };
  /** Metrics on each dashboard. */
  dashboards: number[];
  /** Availability zones (subnets) of each interface endpoint. */
  interfaceEndpointZones: number[];
  secrets: number;
  kmsKeys: number;
  database: DatabaseUsage;
  /** Memory (MB) of each of our functions, by operation. */
  functionMemoryMb: Record<string, number>;
  /** The stats function's environment: its storage limit and whether it publishes data age. */
  statsEnvironment: Record<string, unknown>;
  schedules: ScheduleUsage[];
}

const OURS = /^perps-stats-db (\w+)$/;

export function stackUsage(template: TemplateJson): StackUsage {
  const of = (type: string) =>
    Object.values(template.Resources ?? {})
      .filter((resource) => resource.Type === type)
      .map((resource) => resource.Properties ?? {});
  return {
    alarms: alarmUsage(of('AWS::CloudWatch::Alarm'), of('AWS::CloudWatch::CompositeAlarm').length),
    dashboards: of('AWS::CloudWatch::Dashboard').map((dashboard) => dashboardMetrics(dashboard.DashboardBody)),
    interfaceEndpointZones: of('AWS::EC2::VPCEndpoint')
      .filter((endpoint) => endpoint.VpcEndpointType === 'Interface')
      .map((endpoint) => (endpoint.SubnetIds as unknown[] | undefined)?.length ?? 0),
    secrets: of('AWS::SecretsManager::Secret').length,
    kmsKeys: of('AWS::KMS::Key').length,
    database: databaseUsage(of('AWS::RDS::DBInstance'), of('AWS::RDS::DBCluster')),
    functionMemoryMb: Object.fromEntries(
      of('AWS::Lambda::Function').flatMap((fn) => {
        const operation = OURS.exec(String(fn.Description ?? ''))?.[1];
        return operation ? [[operation, Number(fn.MemorySize ?? 128)]] : [];
      }),
    ),
    statsEnvironment:
      (
        of('AWS::Lambda::Function').find((fn) => fn.Description === 'perps-stats-db stats')?.Environment as {
          Variables?: Record<string, unknown>;
        }
      )?.Variables ?? {},
    schedules: of('AWS::Scheduler::Schedule').flatMap((schedule) => {
      const operation = OURS.exec(String(schedule.Description ?? ''))?.[1];
      return operation ? [{ operation, times: cronTimes(String(schedule.ScheduleExpression)) }] : [];
    }),
  };
}

/** Metrics per alarm: one for a metric alarm, every MetricStat of a metric-math alarm; under 60 s is high resolution. */
function alarmUsage(alarms: Record<string, unknown>[], composite: number): StackUsage['alarms'] {
  let metrics = 0;
  let highResolutionMetrics = 0;
  for (const alarm of alarms) {
    const stats = (alarm.Metrics as { MetricStat?: { Period?: number } }[] | undefined)?.filter((m) => m.MetricStat);
    const count = stats ? stats.length : 1;
    const period = Number(alarm.Period ?? stats?.[0]?.MetricStat?.Period ?? 60);
    if (period < 60) highResolutionMetrics += count;
    else metrics += count;
  }
  return { count: alarms.length, metrics, highResolutionMetrics, composite };
}

/**
 * The metrics on a dashboard: every metric line of every widget, math expressions left out (the
 * metrics they read are lines of their own). The body is JSON joined with references: each
 * reference becomes a placeholder string.
 */
export function dashboardMetrics(body: unknown): number {
  const text = typeof body === 'string' ? body : joinedText(body);
  const { widgets } = JSON.parse(text) as { widgets: { properties?: { metrics?: unknown[][] } }[] };
  return widgets
    .flatMap((widget) => widget.properties?.metrics ?? [])
    .filter((line) => !line.some((part) => typeof part === 'object' && part !== null && 'expression' in part)).length;
}

function joinedText(body: unknown): string {
  const join = (body as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) throw new Error(`a dashboard body that is neither text nor Fn::Join: ${JSON.stringify(body).slice(0, 80)}`);
  return join[1].map((part) => (typeof part === 'string' ? part : 'ref')).join(join[0]);
}

function databaseUsage(instances: Record<string, unknown>[], clusters: Record<string, unknown>[]): DatabaseUsage {
  const cluster = clusters[0];
  if (cluster) {
    const scaling = cluster.ServerlessV2ScalingConfiguration as { MinCapacity: number; MaxCapacity: number };
    return { kind: 'aurora', minAcu: Number(scaling.MinCapacity), maxAcu: Number(scaling.MaxCapacity) };
  }
  const instance = instances[0];
  if (!instance) return { kind: 'none' };
  const instanceClass = String(instance.DBInstanceClass);
  return {
    kind: 'rds',
    instanceClass,
    storageGb: Number(instance.AllocatedStorage),
    storageType: String(instance.StorageType ?? 'gp2'),
    multiAz: instance.MultiAZ === true,
    // Every T4g class up to xlarge has 2 vCPUs; larger ones are not burstable micro-sized classes we price.
    vcpus: 2,
  };
}

/** The UTC times of day, [hour, minute], of `cron(min hour dom month dow year)` with `*`, `a/b`, lists or one value per field. */
export function cronTimes(expression: string): [number, number][] {
  const match = /^cron\((\S+) (\S+) /.exec(expression);
  if (!match) throw new Error(`not a cron schedule: ${expression}`);
  const minutes = fieldValues(match[1] ?? '', 60);
  return fieldValues(match[2] ?? '', 24).flatMap((hour) => minutes.map((minute): [number, number] => [hour, minute]));
}

function fieldValues(field: string, range: number): number[] {
  return field.split(',').flatMap((part) => {
    const [start, step] = part.split('/');
    if (step === undefined) return start === '*' ? Array.from({ length: range }, (_, i) => i) : [Number(start)];
    const from = start === '*' ? 0 : Number(start);
    return Array.from({ length: Math.floor((range - 1 - from) / Number(step)) + 1 }, (_, i) => from + i * Number(step));
  });
}
