import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { deployRunFromEnv } from './environment';
import { type DeployRunOutcome, runAtDeploy, stackStatusOf } from './run-at-deploy';

// A synchronous invoke is silent until the target returns, up to its timeout (Lambda's longest
// is 15 minutes): no request timeout of the HTTP client may cut it shorter.
const lambda = new LambdaClient({ requestHandler: { requestTimeout: 15 * 60_000 } });
const cloudformation = new CloudFormationClient({});

/**
 * Lambda entry of the deploy-time invoker: CDK's Trigger runs it (with an empty event) and
 * fails the deploy when it throws. Its return value lands in the Trigger provider's log.
 */
export async function handler(): Promise<DeployRunOutcome> {
  return runAtDeploy(
    lambda,
    deployRunFromEnv(process.env),
    (entry) => console.log(JSON.stringify(entry)),
    (stackId) => stackStatusOf(cloudformation, stackId),
  );
}
