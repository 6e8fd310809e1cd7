import { type CloudWatchClient, GetMetricDataCommand, type MetricAlarm, paginateDescribeAlarms } from '@aws-sdk/client-cloudwatch';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { SERVICE_NAME } from '../../functions/shared/metric-names';
import type { DeployedStack } from './stack-step';
import { failedAwsStep, type StepResult } from './step';

/** How far back the metrics step looks: three stats runs. */
export const METRICS_WINDOW_MINUTES = 15;

/**
 * Whether the stats metrics reached CloudWatch: DatabaseSizeBytes (one data point per stats run
 * that succeeded, the StatsMissing alarm's metric) in the last 15 minutes.
 */
export async function checkMetrics(cloudwatch: CloudWatchClient, stack: DeployedStack, now: Date): Promise<StepResult> {
  const metric = `DatabaseSizeBytes{service=${SERVICE_NAME}} in ${stack.metricsNamespace}`;
  let samples: number;
  try {
    const { MetricDataResults } = await cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(now.getTime() - METRICS_WINDOW_MINUTES * 60_000),
        EndTime: now,
        MetricDataQueries: [
          {
            Id: 'stats',
            MetricStat: {
              Metric: {
                Namespace: stack.metricsNamespace,
                MetricName: 'DatabaseSizeBytes',
                Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
              },
              Period: 60,
              Stat: 'SampleCount',
            },
          },
        ],
      }),
    );
    samples = (MetricDataResults?.[0]?.Values ?? []).reduce((sum, value) => sum + value, 0);
  } catch (error) {
    return failedAwsStep('metrics', error, 'CloudWatch', 'cloudwatch:GetMetricData');
  }
  if (samples > 0)
    return { step: 'metrics', ok: true, detail: `${metric}: ${samples} stats runs in the last ${METRICS_WINDOW_MINUTES} minutes` };
  return {
    step: 'metrics',
    ok: false,
    detail: `${metric}: no data point in the last ${METRICS_WINDOW_MINUTES} minutes`,
    todo: 'right after a first deploy, wait 10 minutes (stats runs every 5, CloudWatch shows a point a minute or two later) and run verify again; otherwise check that the stats schedule is enabled and read the StatsErrors alarm and the stats log group',
  };
}

/**
 * The stack's alarms (named `<stack>-...` by CloudFormation, acting on the stack's topic) and
 * which are in ALARM, each with its description, which says what to do.
 */
export async function checkAlarms(cloudwatch: CloudWatchClient, stack: DeployedStack): Promise<StepResult> {
  const ours: MetricAlarm[] = [];
  try {
    for await (const page of paginateDescribeAlarms(
      { client: cloudwatch },
      { AlarmNamePrefix: `${stack.name}-`, AlarmTypes: ['MetricAlarm'] },
    )) {
      ours.push(...(page.MetricAlarms ?? []).filter((alarm) => alarm.AlarmActions?.includes(stack.alarmTopicArn)));
    }
  } catch (error) {
    return failedAwsStep('alarms', error, 'CloudWatch', 'cloudwatch:DescribeAlarms');
  }
  if (ours.length === 0) {
    return {
      step: 'alarms',
      ok: false,
      detail: `no alarm named ${stack.name}-... notifies ${stack.alarmTopicArn}`,
      todo: 'deploy this version of the stack (npx cdk deploy)',
    };
  }
  const firing = ours.filter((alarm) => alarm.StateValue === 'ALARM');
  if (firing.length === 0) return { step: 'alarms', ok: true, detail: `${ours.length} alarms, none in ALARM` };
  return {
    step: 'alarms',
    ok: false,
    detail: `${firing.length} of ${ours.length} alarms in ALARM: ${firing.map((alarm) => alarm.AlarmName).join(', ')}`,
    todo: firing.map((alarm) => `${alarm.AlarmName}: ${alarm.AlarmDescription ?? alarm.StateReason ?? ''}`).join('\n'),
  };
}

/** Publishes a test message to the alarm topic: what an alarm sends reaches the subscribers too. */
export async function sendTestNotification(sns: SNSClient, stack: DeployedStack, now: Date): Promise<StepResult> {
  try {
    const { MessageId } = await sns.send(
      new PublishCommand({
        TopicArn: stack.alarmTopicArn,
        Subject: `perps-stats-db ${stack.name}: test notification`,
        Message: `A test notification from npm run verify -- --test-alarm at ${now.toISOString()}: the alarms of stack ${stack.name} reach you through this topic.`,
      }),
    );
    return {
      step: 'test alarm',
      ok: true,
      detail: `sent message ${MessageId}: it reaches confirmed subscriptions (aws sns list-subscriptions-by-topic --topic-arn ${stack.alarmTopicArn})`,
    };
  } catch (error) {
    return failedAwsStep('test alarm', error, 'SNS', 'sns:Publish on the alarm topic');
  }
}
