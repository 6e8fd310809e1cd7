import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployRunFromEnv, INVOKER_ENV } from '../../infra/deploy-invoker/environment';
import { type DeployLog, DeployRunError, runAtDeploy } from '../../infra/deploy-invoker/run-at-deploy';
import { createTestDatabase, databaseState, holdMaintenanceLock, initDatabase, testContext } from '../support/database';
import { type BundledHandler, loadHandler } from '../support/handlers';
import { type LocalAws, useLocalAws } from '../verify/support/aws-environment';

// Point 7 of issue 11, run for real: the invoker the partitions Trigger calls at deploy time,
// with the real SDK against a local Lambda endpoint that runs the partitions bundle.
const FUNCTION = 'perps-stats-db-partitions';
/** The target as the stack names it: the ARN of the function's current version. */
const VERSION_ARN = `arn:aws:lambda:eu-west-1:123456789012:function:${FUNCTION}:7`;
const RUN = { functionName: VERSION_ARN, payload: {}, tolerated: ['LockBusyError'] };

let aws: LocalAws;
let lambda: LambdaClient;
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
  url = await createTestDatabase();
  await initDatabase(testContext(url), { daysAhead: 3 });
  await serve(url);
});

afterAll(async () => {
  lambda.destroy();
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
            /^partitions: another maintenance run \(migrate, partitions, prune or vacuum\) holds the maintenance lock/,
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

describe('the invoker environment', () => {
  it('reads the target, the payload and the tolerated errors the stack writes', () => {
    expect(
      deployRunFromEnv({
        [INVOKER_ENV.target]: VERSION_ARN,
        [INVOKER_ENV.payload]: '{"daysAhead":7}',
        [INVOKER_ENV.tolerated]: 'LockBusyError',
      }),
    ).toEqual({ functionName: VERSION_ARN, payload: { daysAhead: 7 }, tolerated: ['LockBusyError'] });
  });

  it('names a missing target or a payload that is not a JSON object', () => {
    expect(() => deployRunFromEnv({})).toThrow('TARGET_FUNCTION is not set: the stack must name the function to run');
    expect(() => deployRunFromEnv({ [INVOKER_ENV.target]: VERSION_ARN, [INVOKER_ENV.payload]: '[1]' })).toThrow(
      'TARGET_PAYLOAD must be a JSON object',
    );
  });
});
