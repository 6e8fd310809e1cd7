import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { SSMClient } from '@aws-sdk/client-ssm';
import { InputError } from '../../functions/shared/errors';
import { getAccountPlanState } from './free-tier';
import { checkAccountPlan, checkConcurrency } from './preflight-account-steps';
import { checkBootstrap } from './preflight-bootstrap-step';
import type { DeploySettings } from './preflight-context';
import { checkDatabaseOffer } from './preflight-database-step';
import { checkEndpoints, checkVpcs } from './preflight-network-steps';
import type { StepResult } from './step';

/** The SDK clients the preflight steps take (the Free Tier call signs with the Lambda client's credentials). */
export interface PreflightClients {
  cloudformation: CloudFormationClient;
  lambda: LambdaClient;
  rds: RDSClient;
  ec2: EC2Client;
  ssm: SSMClient;
  quotas: ServiceQuotasClient;
}

/** Real SDK v3 clients: credentials, region and endpoints (AWS_ENDPOINT_URL_<SERVICE>) from the usual chain. */
export function createPreflightClients(region: string | undefined): PreflightClients {
  const config = region ? { region } : {};
  return {
    cloudformation: new CloudFormationClient(config),
    lambda: new LambdaClient(config),
    rds: new RDSClient(config),
    ec2: new EC2Client(config),
    ssm: new SSMClient(config),
    quotas: new ServiceQuotasClient(config),
  };
}

/** The region the clients will use: the flag, else the SDK's chain (AWS_REGION, the profile). */
export async function resolveRegion(client: { config: { region: () => Promise<string> } }): Promise<string> {
  try {
    return await client.config.region();
  } catch {
    throw new InputError('no AWS region: pass --region or set AWS_REGION (or a region in your AWS profile)');
  }
}

/**
 * What a first deploy of these settings would run into, one step at a time, each printed when
 * it is done: the account plan, Lambda concurrency, the database on offer, the CDK bootstrap,
 * the VPC and endpoint quotas. Reads only; an AWS error fails its own step.
 */
export async function runPreflight(
  clients: PreflightClients,
  settings: DeploySettings,
  region: string,
  print: (result: StepResult) => void,
): Promise<StepResult[]> {
  const { config } = settings;
  const signing = { credentials: clients.lambda.config.credentials, sha256: clients.lambda.config.sha256 };
  const network = { ec2: clients.ec2, quotas: clients.quotas };
  const steps: Array<() => Promise<StepResult>> = [
    () => checkAccountPlan(() => getAccountPlanState(signing), config, region),
    () => checkConcurrency(clients.lambda, config),
    () => checkDatabaseOffer(clients.rds, config, region),
    () => checkBootstrap(clients.cloudformation, clients.ssm, settings),
    () => checkVpcs(network, config, region),
    () => checkEndpoints(network, config, region),
  ];
  const results: StepResult[] = [];
  for (const step of steps) {
    const result = await step();
    print(result);
    results.push(result);
  }
  return results;
}
