import { LambdaClient } from '@aws-sdk/client-lambda';
import { deployRunFromEnv } from './environment';
import { type DeployRunOutcome, runAtDeploy } from './run-at-deploy';

const lambda = new LambdaClient({});

/**
 * Lambda entry of the deploy-time invoker: CDK's Trigger runs it (with an empty event) and
 * fails the deploy when it throws. Its return value lands in the Trigger provider's log.
 */
export async function handler(): Promise<DeployRunOutcome> {
  return runAtDeploy(lambda, deployRunFromEnv(process.env), (entry) => console.log(JSON.stringify(entry)));
}
