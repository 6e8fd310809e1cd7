import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployRunFromEnv, INVOKER_ENV } from '../../infra/deploy-invoker/environment';
import { type DeployLog, DeployRunError, runAtDeploy, stackStatusOf } from '../../infra/deploy-invoker/run-at-deploy';
import { createTestDatabase, databaseState, holdMaintenanceLock, initDatabase, testContext, withClient } from '../support/database';
import { type BundledHandler, loadHandler } from '../support/handlers';
import { type LocalAws, useLocalAws } from '../verify/support/aws-environment';

// Point 7 of issue 11, run for real: the invoker the partitions Trigger calls at deploy time,
// with the real SDK against a local Lambda endpoint that runs the partitions bundle.
const FUNCTION = 'perps-stats-db-partitions';
/** The target as the stack names it: the ARN of the function's current version. */
const VERSION_ARN = `arn:aws:lambda:eu-west-1:123456789012:function:${FUNCTION}:7`;
const RUN = { functionName: VERSION_ARN, payload: {}, tolerated: ['LockBusyError'] };

/** The stack the invoker reads its status from, as the stack passes it (AWS::StackId). */
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/PerpsStatsDb/0f1e2d3c';

let aws: LocalAws;
let lambda: LambdaClient;
let cloudformation: CloudFormationClient;
let url: string;
const opened: BundledHandler[] = [];

/** Serves the partitions bundle on `databaseUrl` under FUNCTION. */
async function serve(databaseUrl: string, throttled = false): Promise<void> {
  const handler = await loadHandler('partitions', { DATABASE_URL: databaseUrl, PARTITIONS_DAYS_AHEAD: '7' });
  opened.push(handler);
  aws.lambda.functions.set(FUNCTION, { handler, throttled });
}

/** Runs the invoker, keeping what it logged. */
async function runInvoker() {
  const logged: Parameters<DeployLog>[0][] = [];
  const outcome = await runAtDeploy(lambda, RUN, (entry) => logged.push(entry));
  return { outcome, logged };
}

beforeAll(async () => {
  aws = await useLocalAws();
  lambda = new LambdaClient({});
  cloudformation = new CloudFormationClient({});
  url = await createTestDatabase();
  await initDatabase(testContext(url), { daysAhead: 3 });
  await serve(url);
});

afterAll(async () => {
  lambda.destroy();
  cloudformation.destroy();
  for (const handler of opened) await handler.close();
  await aws.release();
});

describe('the deploy-time invoker of partitions', () => {
  it('runs partitions synchronously and returns its report', async () => {
    const { outcome, logged } = await runInvoker();
    expect(outcome).toMatchObject({ outcome: 'done', functionName: VERSION_ARN, report: { operation: 'partitions', days_ahead: 7 } });
    expect(logged).toEqual([expect.objectContaining({ level: 'INFO', message: `${VERSION_ARN} done at deploy` })]);
  });

  it('does not fail the deploy when another maintenance run holds the lock: it logs why it skipped', async () => {
    const lock = await holdMaintenanceLock(url);
    try {
      const before = await databaseState(url);
      const { outcome, logged } = await runInvoker();
      expect(outcome).toMatchObject({ outcome: 'skipped', errorType: 'LockBusyError' });
      expect(logged).toEqual([
        {
          level: 'WARN',
          message: `${VERSION_ARN} skipped at deploy: another maintenance run holds the lock and does this work`,
          functionName: VERSION_ARN,
          errorType: 'LockBusyError',
          errorMessage: expect.stringMatching(
            /^partitions: another maintenance run \(migrate, partitions, prune, vacuum, archive or restore\) holds the maintenance lock/,
          ),
        },
      ]);
      expect(await databaseState(url)).toEqual(before);
    } finally {
      await lock.release();
    }
  });

  it('does not fail the deploy when partitions is throttled: it invokes it asynchronously and logs that', async () => {
    await serve(url, true);
    try {
      const queued = aws.lambda.queued.length;
      const { outcome, logged } = await runInvoker();
      expect(outcome).toMatchObject({ outcome: 'queued' });
      expect(aws.lambda.queued.slice(queued)).toEqual([{ functionName: FUNCTION, payload: {} }]);
      expect(logged).toEqual([
        expect.objectContaining({
          level: 'WARN',
          message: `${VERSION_ARN} queued at deploy`,
          reason:
            'throttled (ReservedFunctionConcurrentInvocationLimitExceeded): invoked asynchronously instead; Lambda retries it while it is throttled',
        }),
      ]);
    } finally {
      await serve(url);
    }
  });

  it('fails the deploy on any other error, with the errorType and message CloudFormation shows', async () => {
    await serve(await createTestDatabase());
    try {
      const error = await runInvoker().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DeployRunError);
      expect((error as DeployRunError).message).toMatch(
        new RegExp(`^${VERSION_ARN} failed at deploy: MigrationError: database perps_test_\\w+ is missing the tables `),
      );
    } finally {
      await serve(url);
    }
  });
});

// Issue 23, point 2: CDK's Trigger runs on a rollback's Update too, with the previous versions.
describe('a deploy rollback', () => {
  /** Runs the invoker as the stack configures it (with STACK_ID), the stack in `status`. */
  async function runInStack(status: string) {
    aws.cloudformation.stacks.set(STACK_ID, { StackName: 'PerpsStatsDb', StackStatus: status, Outputs: {} });
    const logged: Parameters<DeployLog>[0][] = [];
    const outcome = await runAtDeploy(
      lambda,
      { ...RUN, stackId: STACK_ID },
      (entry) => logged.push(entry),
      (stackId) => stackStatusOf(cloudformation, stackId),
    );
    return { outcome, logged };
  }

  it('does not fail on a partitions failure while the stack rolls back: it logs it, and the rollback goes on', async () => {
    // A database the old partitions cannot work on (here: no schema at all).
    await serve(await createTestDatabase());
    try {
      const { outcome, logged } = await runInStack('UPDATE_ROLLBACK_IN_PROGRESS');
      expect(outcome).toEqual({
        outcome: 'failed_in_rollback',
        functionName: VERSION_ARN,
        stackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS',
        error: expect.stringMatching(new RegExp(`^${VERSION_ARN} failed at deploy: MigrationError: `)),
      });
      expect(logged).toEqual([
        expect.objectContaining({
          level: 'WARN',
          message: `${VERSION_ARN} failed during a rollback (UPDATE_ROLLBACK_IN_PROGRESS): not failing the rollback`,
        }),
      ]);
    } finally {
      await serve(url);
    }
  });

  it('still fails a deploy (not a rollback) on the same failure', async () => {
    await serve(await createTestDatabase());
    try {
      const error = await runInStack('UPDATE_IN_PROGRESS').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DeployRunError);
    } finally {
      await serve(url);
    }
  });

  it('runs the migrate bundle, as the Trigger invokes it, on a database ahead of it: success, ahead_by, nothing changed', async () => {
    const ahead = await createTestDatabase();
    await initDatabase(testContext(ahead), { daysAhead: 3 });
    // What a newer build's migrate leaves: a ledger row this build has no file for.
    await withClient(ahead, (client) =>
      client.query(`INSERT INTO perps_schema_migrations (name, checksum, duration_ms) VALUES ('9990_newer.sql', 'x', 1)`),
    );
    const before = await databaseState(ahead);
    const handler = await loadHandler('migrate', { DATABASE_URL: ahead });
    opened.push(handler);
    aws.lambda.functions.set('perps-stats-db-migrate', { handler });
    // As CDK's Trigger provider invokes: RequestResponse, no payload, the version ARN.
    const response = await lambda.send(
      new InvokeCommand({
        FunctionName: 'arn:aws:lambda:eu-west-1:123456789012:function:perps-stats-db-migrate:3',
        InvocationType: 'RequestResponse',
      }),
    );
    expect(response.FunctionError).toBeUndefined();
    const report = JSON.parse(new TextDecoder().decode(response.Payload)) as Record<string, unknown>;
    expect(report).toMatchObject({ operation: 'migrate', applied: 0, ahead_by: 1 });
    expect(await databaseState(ahead)).toEqual(before);
  });
});

describe('the invoker environment', () => {
  it('reads the target, the payload and the tolerated errors the stack writes', () => {
    expect(
      deployRunFromEnv({
        [INVOKER_ENV.target]: VERSION_ARN,
        [INVOKER_ENV.payload]: '{"daysAhead":7}',
        [INVOKER_ENV.tolerated]: 'LockBusyError',
      }),
    ).toEqual({ functionName: VERSION_ARN, payload: { daysAhead: 7 }, tolerated: ['LockBusyError'] });
    expect(deployRunFromEnv({ [INVOKER_ENV.target]: VERSION_ARN, [INVOKER_ENV.stack]: STACK_ID })).toMatchObject({ stackId: STACK_ID });
  });

  it('names a missing target or a payload that is not a JSON object', () => {
    expect(() => deployRunFromEnv({})).toThrow('TARGET_FUNCTION is not set: the stack must name the function to run');
    expect(() => deployRunFromEnv({ [INVOKER_ENV.target]: VERSION_ARN, [INVOKER_ENV.payload]: '[1]' })).toThrow(
      'TARGET_PAYLOAD must be a JSON object',
    );
  });
});
