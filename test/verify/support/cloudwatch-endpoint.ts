import type { MetricAlarm } from '@aws-sdk/client-cloudwatch';
import type { EmfDocument } from '../../support/handlers';
import { type HttpEndpoint, type Reply, startHttpEndpoint } from './http-endpoint';

/** One stored data point: what CloudWatch extracts from an EMF document for one metric. */
interface DataPoint {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  timestamp: number;
  value: number;
}

interface MetricQuery {
  Id: string;
  MetricStat: {
    Metric: { Namespace: string; MetricName: string; Dimensions?: { Name: string; Value: string }[] };
    Period: number;
    Stat: string;
  };
}

/**
 * CloudWatch over the JSON 1.0 protocol (`X-Amz-Target: GraniteServiceVersion20100801.<Op>`),
 * which @aws-sdk/client-cloudwatch 3.11xx speaks (query-compatible errors): GetMetricData over
 * the data points of EMF documents the handlers wrote, and DescribeAlarms over alarms the test
 * sets. Timestamps travel as epoch seconds.
 */
export interface CloudWatchEndpoint extends HttpEndpoint {
  /** What CloudWatch Logs would turn into metrics: the EMF a function wrote. */
  putEmf(documents: EmfDocument[]): void;
  alarms: MetricAlarm[];
}

const STATISTICS: Record<string, (values: number[]) => number> = {
  SampleCount: (values) => values.length,
  Sum: (values) => values.reduce((a, b) => a + b, 0),
  Maximum: (values) => Math.max(...values),
  Minimum: (values) => Math.min(...values),
};

function json(status: number, payload: unknown, errorCode?: string): Reply {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.0', ...(errorCode ? { 'x-amzn-query-error': `${errorCode};Sender` } : {}) },
    body: JSON.stringify(payload),
  };
}

/** The data points of each EMF document: one per metric, with the document's first dimension set. */
function dataPointsOf(document: EmfDocument): DataPoint[] {
  return document._aws.CloudWatchMetrics.flatMap((directive) =>
    directive.Metrics.map((metric) => ({
      namespace: directive.Namespace,
      metricName: metric.Name,
      dimensions: Object.fromEntries((directive.Dimensions[0] ?? []).map((name) => [name, String(document[name])])),
      timestamp: document._aws.Timestamp / 1000,
      value: Number(document[metric.Name]),
    })),
  );
}

/** One query's result: the statistic per period, newest first, as CloudWatch orders them. */
function answerQuery(points: DataPoint[], query: MetricQuery, start: number, end: number) {
  const { Metric, Period, Stat } = query.MetricStat;
  const wanted = Object.fromEntries((Metric.Dimensions ?? []).map(({ Name, Value }) => [Name, Value]));
  const buckets = new Map<number, number[]>();
  for (const point of points) {
    const sameDimensions = JSON.stringify(Object.entries(point.dimensions).sort()) === JSON.stringify(Object.entries(wanted).sort());
    if (point.namespace !== Metric.Namespace || point.metricName !== Metric.MetricName || !sameDimensions) continue;
    if (point.timestamp < start || point.timestamp >= end) continue;
    const bucket = Math.floor(point.timestamp / Period) * Period;
    buckets.set(bucket, [...(buckets.get(bucket) ?? []), point.value]);
  }
  const timestamps = [...buckets.keys()].sort((a, b) => b - a);
  const statistic = STATISTICS[Stat];
  if (!statistic) throw new Error(`statistic ${Stat} is not emulated`);
  return {
    Id: query.Id,
    Label: Metric.MetricName,
    StatusCode: 'Complete',
    Timestamps: timestamps,
    Values: timestamps.map((t) => statistic(buckets.get(t) ?? [])),
  };
}

export async function startCloudWatchEndpoint(): Promise<CloudWatchEndpoint> {
  const points: DataPoint[] = [];
  const alarms: MetricAlarm[] = [];
  const endpoint = await startHttpEndpoint((request) => {
    const operation = String(request.headers['x-amz-target'] ?? '').replace(/^GraniteServiceVersion20100801\./, '');
    const input = JSON.parse(request.body || '{}') as Record<string, unknown>;
    if (operation === 'GetMetricData') {
      const queries = input.MetricDataQueries as MetricQuery[];
      const [start, end] = [Number(input.StartTime), Number(input.EndTime)];
      return json(200, { MetricDataResults: queries.map((query) => answerQuery(points, query, start, end)), Messages: [] });
    }
    if (operation === 'DescribeAlarms') {
      const prefix = String(input.AlarmNamePrefix ?? '');
      const matching = alarms.filter(
        (alarm) => alarm.AlarmName?.startsWith(prefix) && (!input.StateValue || alarm.StateValue === input.StateValue),
      );
      return json(200, { MetricAlarms: matching, CompositeAlarms: [] });
    }
    return json(400, { __type: 'InvalidAction', message: `unsupported operation ${operation}` }, 'InvalidAction');
  });
  return Object.assign(endpoint, { putEmf: (documents: EmfDocument[]) => points.push(...documents.flatMap(dataPointsOf)), alarms });
}
