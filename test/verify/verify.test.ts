import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { MetricAlarm, StateValue } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HANDLER_OPERATIONS, type HandlerOperation } from '../../infra/bundling';
import { STACK_OUTPUTS } from '../../infra/stack-contract';
import { runVerify } from '../../infra/verify/cli';
import {
  createTestDatabase,
  databaseState,
  holdMaintenanceLock,
  initDatabase,
  loginRole,
  testContext,
  withClient,
} from '../support/database';
import { type BundledHandler, loadHandler } from '../support/handlers';
import { type LocalAws, useLocalAws } from './support/aws-environment';
import { startHttpEndpoint } from './support/http-endpoint';

const STACK = 'PerpsStatsDb';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:PerpsStatsDb-AlarmsTopic3A2DFEBA-LOCAL';
const functionName = (operation: HandlerOperation) => `${STACK}-Functions${operation}-LOCAL`;
/** The environment the stack gives each function (infra/constructs/functions.ts), with a URL for the secret. */
const FUNCTION_ENV = { METRICS_NAMESPACE: 'PerpsStats', PARTITIONS_DAYS_AHEAD: '7', PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS: '180' };

let aws: LocalAws;
let url: string;
const opened: BundledHandler[] = [];

/** Serves the operation's real bundle under its stack name, connected to `databaseUrl`. */
async function serve(operation: HandlerOperation, databaseUrl: string, env: Record<string, string | undefined> = FUNCTION_ENV) {
  const handler = await loadHandler(operation, { ...env, DATABASE_URL: databaseUrl });
  opened.push(handler);
  aws.lambda.functions.set(functionName(operation), { handler });
}

/** An alarm as CloudFormation names it (`<stack>-<logical id>-<suffix>`), acting on `actions`. */
function alarm(logicalId: string, state: StateValue, description: string, actions = [TOPIC]): MetricAlarm {
  return {
    AlarmName: `${STACK}-${logicalId}-LOCAL`,
    StateValue: state,
    AlarmDescription: description,
    AlarmActions: actions,
    OKActions: actions,
  };
}

async function verify(argv: string[], now?: () => Date): Promise<{ code: number; stdout: string; stderr: string }> {
  const collect = (into: string[]) => new Writable({ write: (chunk, _encoding, done) => done(void into.push(String(chunk))) });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runVerify(argv, { stdout: collect(stdout), stderr: collect(stderr), now });
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}

/** The printed line of a step: `ok      stats       ...`. */
const line = (output: string, step: string) => output.split('\n').find((text) => text.slice(8).startsWith(step.padEnd(12))) ?? '';

beforeAll(async () => {
  aws = await useLocalAws();
  url = await createTestDatabase();
  await initDatabase(testContext(url), { daysAhead: 7 });
  for (const operation of HANDLER_OPERATIONS) await serve(operation, url);
  // The stack points archive at its bucket; here a directory stands in (its dry run writes nothing).
  await serve('archive', url, { ...FUNCTION_ENV, ARCHIVE_DIR: mkdtempSync(join(tmpdir(), 'verify-archive-')) });
  aws.cloudformation.stacks.set(STACK, {
    StackName: STACK,
    StackStatus: 'UPDATE_COMPLETE',
    Outputs: {
      ...Object.fromEntries(HANDLER_OPERATIONS.map((operation) => [STACK_OUTPUTS.functionName(operation), functionName(operation)])),
      [STACK_OUTPUTS.alarmTopicArn]: TOPIC,
      [STACK_OUTPUTS.metricsNamespace]: 'PerpsStats',
      [STACK_OUTPUTS.archiveBucketName]: 'perpsstatsdb-archivebucket-local',
    },
  });
  aws.sns.topics.add(TOPIC);
});

beforeEach(() => {
  aws.cloudwatch.alarms.splice(
    0,
    Infinity,
    alarm('AlarmsStatsMissing5976924A', 'OK', 'No stats metrics for 15 minutes'),
    alarm('AlarmsMigrateErrorsFC558AB4', 'OK', 'The migrate function failed.'),
    // Another stack's alarm on another topic: not ours, whatever its state.
    { ...alarm('Other', 'ALARM', 'not ours', ['arn:aws:sns:eu-west-1:123456789012:other']), AlarmName: `${STACK}-staging-Other-LOCAL` },
  );
});

afterAll(async () => {
  for (const handler of opened) await handler.close();
  await aws.release();
});

describe('npm run verify against local CloudFormation, Lambda, CloudWatch and SNS endpoints', () => {
  it('passes a working stack: every step ok, exit 0, and the database unchanged by the dry runs', async () => {
    const before = await databaseState(url);
    const lambdaCalls = aws.lambda.requests.length;
    const { code, stdout, stderr } = await verify(['--stack', STACK, '--test-alarm']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(line(stdout, 'stack')).toMatch(
      new RegExp(
        `^ok {6}stack {7}PerpsStatsDb in eu-west-1: UPDATE_COMPLETE, ${HANDLER_OPERATIONS.length} functions, metrics namespace PerpsStats$`,
      ),
    );
    expect(line(stdout, 'stats')).toMatch(
      /^ok {6}stats {7}database perps_test_\w+ [\d.]+ MiB, 7 tables, 7-7 days of partitions ahead, 0 rows ingested in the last hour/,
    );
    expect(line(stdout, 'partitions')).toMatch(/^ok {6}partitions {2}may be invoked \(Lambda dry run: checked, nothing ran\)/);
    expect(line(stdout, 'prune')).toBe('ok      prune       dry run: would drop 0 partitions and delete 0 rows; nothing was changed');
    expect(line(stdout, 'archive')).toMatch(
      /^ok {6}archive {5}dry run: would archive 0 day partitions to file:\/\/\S+verify-archive-\w+, 0 already archived; nothing was written$/,
    );
    expect(line(stdout, 'metrics')).toMatch(/^ok {6}metrics {5}DatabaseSizeBytes\{service=perps-stats-db\} in PerpsStats: 1 stats runs/);
    expect(line(stdout, 'alarms')).toBe('ok      alarms      2 alarms, none in ALARM');
    expect(line(stdout, 'test alarm')).toMatch(/^ok {6}test alarm {2}sent message local-message-1: it reaches confirmed subscriptions/);
    expect(line(stdout, 'vacuum')).toMatch(
      /^ok {6}vacuum {6}dry run: would seal \d+ partitions and analyze \d+ tables, \d+ partitions already sealed; nothing was run$/,
    );
    expect(stdout).toMatch(/\nall 9 steps ok\n$/);
    expect(await databaseState(url)).toEqual(before);

    // What the SDK sent: signed requests, stats with {}, partitions as Lambda's dry run, prune as ours.
    const calls = aws.lambda.requests.slice(lambdaCalls);
    expect(calls.map((call) => [call.path.split('/')[3], call.headers['x-amz-invocation-type'] ?? 'RequestResponse', call.body])).toEqual([
      [functionName('stats'), 'RequestResponse', '{}'],
      [functionName('partitions'), 'DryRun', ''],
      [functionName('prune'), 'RequestResponse', '{"dryRun":true}'],
      [functionName('vacuum'), 'RequestResponse', '{"dryRun":true}'],
      [functionName('archive'), 'RequestResponse', '{"dryRun":true}'],
    ]);
    for (const endpoint of [aws.cloudformation, aws.lambda, aws.cloudwatch, aws.sns]) {
      for (const request of endpoint.requests)
        expect(request.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST\//);
    }
    expect(aws.sns.published.at(-1)).toMatchObject({ TopicArn: TOPIC, Subject: 'perps-stats-db PerpsStatsDb: test notification' });
  });

  it('names each alarm in ALARM with its description, which says what to do; exit 1', async () => {
    aws.cloudwatch.alarms.push(alarm('AlarmstickersRunway248CDFBC', 'ALARM', 'tickers: fewer than 2 days of partitions ahead.'));
    const { code, stdout } = await verify(['--stack', STACK]);
    expect(code).toBe(1);
    expect(line(stdout, 'alarms')).toBe('failed  alarms      1 of 3 alarms in ALARM: PerpsStatsDb-AlarmstickersRunway248CDFBC-LOCAL');
    expect(stdout).toContain('what to do: PerpsStatsDb-AlarmstickersRunway248CDFBC-LOCAL: tickers: fewer than 2 days of partitions ahead.');
    expect(stdout).toMatch(/\n1 of 8 steps failed\n$/);
  });

  it('says to wait when no stats metric reached CloudWatch in the last 15 minutes', async () => {
    const { code, stdout } = await verify(['--stack', STACK], () => new Date(Date.now() + 3_600_000));
    expect(code).toBe(1);
    expect(line(stdout, 'metrics')).toBe(
      'failed  metrics     DatabaseSizeBytes{service=perps-stats-db} in PerpsStats: no data point in the last 15 minutes',
    );
    expect(stdout).toContain('what to do: right after a first deploy, wait 10 minutes');
  });

  it('reports a function error with its errorType and what to do: stats on a database without the schema', async () => {
    await serve('stats', await createTestDatabase());
    try {
      const { code, stdout } = await verify(['--stack', STACK]);
      expect(code).toBe(1);
      expect(line(stdout, 'stats')).toMatch(/^failed {2}stats {7}MigrationError: database perps_test_\w+ is missing the tables /);
      expect(stdout).toContain('what to do: the schema is not installed, or a migration failed: invoke migrate');
    } finally {
      await serve('stats', url);
    }
  });

  // Issue 23, point 8.
  it('says what to do about InsufficientPrivilegeError: vacuum run by a login that does not own the tables', async () => {
    const stranger = await withClient(url, (admin) => loginRole(admin, url, 'perps_verify_stranger'));
    await serve('vacuum', stranger.url);
    try {
      const { code, stdout } = await verify(['--stack', STACK]);
      expect(code).toBe(1);
      expect(line(stdout, 'vacuum')).toMatch(/^failed {2}vacuum {6}InsufficientPrivilegeError: /);
      expect(stdout).toContain(
        'what to do: the login in the database secret lacks a privilege this operation needs (the message names it): migrate, partitions, prune, vacuum and archive run as the owner of the tables',
      );
    } finally {
      await serve('vacuum', url);
    }
  });

  it('fails the prune dry run while another maintenance run holds the lock, saying to run again later', async () => {
    const lock = await holdMaintenanceLock(url);
    try {
      const { code, stdout } = await verify(['--stack', STACK]);
      expect(code).toBe(1);
      expect(line(stdout, 'prune')).toMatch(/^failed {2}prune {7}LockBusyError: prune: another maintenance run/);
      expect(stdout).toContain('what to do: another maintenance run holds the lock (the nightly runs are 01:00-02:15 UTC)');
    } finally {
      await lock.release();
    }
  });

  it('accepts a prune with retention off: nothing to preview', async () => {
    await serve('prune', url, { METRICS_NAMESPACE: 'PerpsStats' });
    try {
      const { code, stdout } = await verify(['--stack', STACK]);
      expect(line(stdout, 'prune')).toBe('ok      prune       retention is off (both retention context keys): nothing to preview');
      expect(code).toBe(0);
    } finally {
      await serve('prune', url);
    }
  });

  it('skips the archive dry run of a stack deployed with archive=false (no ArchiveBucketName output)', async () => {
    const stack = aws.cloudformation.stacks.get(STACK) as NonNullable<ReturnType<typeof aws.cloudformation.stacks.get>>;
    const { [STACK_OUTPUTS.archiveBucketName]: _bucket, ...outputs } = stack.Outputs as Record<string, string>;
    aws.cloudformation.stacks.set(STACK, { ...stack, Outputs: outputs });
    const lambdaCalls = aws.lambda.requests.length;
    try {
      const { code, stdout } = await verify(['--stack', STACK]);
      expect(line(stdout, 'archive')).toBe('ok      archive     archiving is off (archive=false): nothing to check');
      expect(code).toBe(0);
      expect(aws.lambda.requests.slice(lambdaCalls).map((call) => call.path)).not.toContainEqual(expect.stringContaining('archive'));
    } finally {
      aws.cloudformation.stacks.set(STACK, stack);
    }
  });

  it("fails only the step whose AWS call is refused, saying which permission it needs: SNS's NotFound for the topic", async () => {
    aws.sns.topics.delete(TOPIC);
    try {
      const { code, stdout } = await verify(['--stack', STACK, '--test-alarm']);
      expect(code).toBe(1);
      expect(line(stdout, 'test alarm')).toBe('failed  test alarm  NotFoundException: Topic does not exist');
      expect(stdout).toContain('what to do: your credentials need sns:Publish on the alarm topic');
      expect(stdout).toMatch(/\n1 of 9 steps failed\n$/);
    } finally {
      aws.sns.topics.add(TOPIC);
    }
  });

  it('goes on past a stack whose last deploy rolled back, saying how to find out why', async () => {
    const stack = aws.cloudformation.stacks.get(STACK);
    aws.cloudformation.stacks.set(STACK, { ...(stack as NonNullable<typeof stack>), StackStatus: 'UPDATE_ROLLBACK_COMPLETE' });
    try {
      const { code, stdout } = await verify(['--stack', STACK]);
      expect(code).toBe(1);
      expect(line(stdout, 'stack')).toMatch(/^failed {2}stack {7}PerpsStatsDb in eu-west-1: UPDATE_ROLLBACK_COMPLETE/);
      expect(stdout).toContain('aws cloudformation describe-stack-events --stack-name PerpsStatsDb');
      expect(line(stdout, 'stats')).toMatch(/^ok/);
    } finally {
      aws.cloudformation.stacks.set(STACK, stack as NonNullable<typeof stack>);
    }
  });

  it('stops at a stack without the outputs it needs (deployed before they existed)', async () => {
    aws.cloudformation.stacks.set('Old', { StackName: 'Old', StackStatus: 'CREATE_COMPLETE', Outputs: { AlarmTopicArn: TOPIC } });
    const { code, stdout } = await verify(['--stack', 'Old']);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^failed {2}stack {7}Old \(CREATE_COMPLETE\) lacks the outputs MigrateFunctionName, .*, MetricsNamespace\n/);
    expect(stdout).toContain('what to do: deploy this version of the stack (npx cdk deploy)');
    expect(line(stdout, 'stats')).toBe('');
  });
});

describe('exit codes before any step', () => {
  it('exits 2 on bad flags, before any AWS call', async () => {
    const requests = aws.cloudformation.requests.length;
    expect(await verify([])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: --stack is required: the stack name (PerpsStatsDb unless you renamed it)\n',
    });
    expect((await verify(['--stack', STACK, '--stak', 'x'])).stderr).toBe("error: Unknown option '--stak'; see --help\n");
    expect(await verify(['--stack', 'no_such!', '--region', 'mars'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: --stack "no_such!" is not a CloudFormation stack name; --region "mars" is not an AWS region such as eu-west-1\n',
    });
    expect(aws.cloudformation.requests.length).toBe(requests);
    expect((await verify(['--help'])).stdout).toMatch(/^perps-stats-db verify: prove a deployed stack works/);
  });

  it('exits 2 when the stack does not exist in the region', async () => {
    expect(await verify(['--stack', 'Nope', '--region', 'eu-west-1'])).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'error: stack Nope not found in eu-west-1: check --stack and --region (aws cloudformation list-stacks --region eu-west-1 lists the stacks there)\n',
    });
  });

  it('exits 3 when AWS cannot be reached', async () => {
    const closed = await startHttpEndpoint(() => ({ status: 200 }));
    await closed.close();
    const saved = process.env.AWS_ENDPOINT_URL_CLOUDFORMATION;
    process.env.AWS_ENDPOINT_URL_CLOUDFORMATION = closed.url;
    try {
      const { code, stderr } = await verify(['--stack', STACK]);
      expect(code).toBe(3);
      expect(stderr).toMatch(/^error: cannot reach CloudFormation with these credentials \(\w+: .*ECONNREFUSED.*\): check the network/);
    } finally {
      process.env.AWS_ENDPOINT_URL_CLOUDFORMATION = saved;
    }
  });
});
