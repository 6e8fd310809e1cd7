import { GetAccountSettingsCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { OPERATIONS } from '../../functions/operations/registry';
import type { StackConfig } from '../config';
import type { AccountPlanState } from './free-tier';
import { failedAwsStep, type StepResult } from './step';

/**
 * What the Free plan refuses of this configuration: RDS a backup retention above 1 day
 * (FreeTierRestrictionError), and any Aurora cluster through CloudFormation.
 */
function freePlanRefusals(config: StackConfig): string[] {
  const database = config.database;
  if (database.kind === 'aurora') return ['Aurora cannot be created by CloudFormation on the Free plan'];
  if (database.kind === 'rds' && database.backupRetentionDays > 1) {
    return [`RDS refuses backupRetentionDays=${database.backupRetentionDays} on the Free plan (FreeTierRestrictionError; 1 day at most)`];
  }
  return [];
}

function describePlan(state: AccountPlanState): string {
  const credits = state.accountPlanRemainingCredits;
  const expires = state.accountPlanExpirationDate;
  const until = typeof expires === 'number' ? new Date(expires * 1000).toISOString().slice(0, 10) : expires;
  return [
    `${state.accountPlanType} plan (${state.accountPlanStatus ?? 'status unknown'}`,
    credits?.amount !== undefined ? `, ${credits.amount} ${credits.unit ?? ''} credits left`.trimEnd() : '',
    until ? `, until ${until}` : '',
    ')',
  ].join('');
}

const UPGRADE = 'upgrade the account to the Paid plan (Billing and Cost Management console, Free Tier: Upgrade plan)';

/**
 * The account's plan (Free Tier API), against what this configuration would create. The Free
 * plan, and the API, exist in the aws partition only (not in aws-cn or aws-us-gov).
 */
export async function checkAccountPlan(
  readPlan: () => Promise<AccountPlanState>,
  config: StackConfig,
  region: string,
): Promise<StepResult> {
  if (/^(cn|us-gov|us-iso[a-z]*|eu-isoe)-/.test(region))
    return { step: 'plan', ok: true, detail: `${region} has no Free plan (aws partition only)` };
  let state: AccountPlanState;
  try {
    state = await readPlan();
  } catch (error) {
    return failedAwsStep('plan', error, 'the Free Tier API', 'freetier:GetAccountPlanState');
  }
  if (state.accountPlanType !== 'FREE') return { step: 'plan', ok: true, detail: `${describePlan(state)}: no Free plan limits` };
  if (state.accountPlanStatus === 'EXPIRED') {
    return { step: 'plan', ok: false, detail: `${describePlan(state)}: the account cannot create resources`, todo: UPGRADE };
  }
  const refusals = freePlanRefusals(config);
  if (refusals.length === 0) return { step: 'plan', ok: true, detail: `${describePlan(state)}: this configuration fits it` };
  const instead = config.database.kind === 'aurora' ? '-c database=rds -c backupRetentionDays=1' : '-c backupRetentionDays=1';
  return {
    step: 'plan',
    ok: false,
    detail: `${describePlan(state)}: ${refusals.join('; ')}`,
    todo: `${UPGRADE}, or deploy with ${instead}`,
  };
}

/** The concurrent executions the stack reserves with reservedConcurrency=true: what each operation's definition reserves. */
export function reservedByStack(config: StackConfig): number {
  if (!config.reservedConcurrency) return 0;
  return Object.values(OPERATIONS).reduce((sum, operation) => sum + (operation.deploy.reservedConcurrency ?? 0), 0);
}

/** Lambda keeps this many executions unreserved: 100, or the whole quota when it is lower (the errors say [10], [50]). */
const minimumUnreserved = (quota: number) => Math.min(100, quota);

/** The account's Lambda concurrency against the stack's reservations. */
export async function checkConcurrency(lambda: LambdaClient, config: StackConfig): Promise<StepResult> {
  let quota: number;
  let unreserved: number;
  try {
    const { AccountLimit } = await lambda.send(new GetAccountSettingsCommand({}));
    quota = AccountLimit?.ConcurrentExecutions ?? 0;
    unreserved = AccountLimit?.UnreservedConcurrentExecutions ?? quota;
  } catch (error) {
    return failedAwsStep('concurrency', error, 'Lambda', 'lambda:GetAccountSettings');
  }
  const reserved = reservedByStack(config);
  const account = `quota ${quota} concurrent executions, ${unreserved} unreserved`;
  if (reserved === 0) return { step: 'concurrency', ok: true, detail: `${account}; reservedConcurrency off: the stack reserves none` };
  const left = unreserved - reserved;
  const minimum = minimumUnreserved(quota);
  const detail = `${account}; reservedConcurrency=true reserves ${reserved}, leaving ${left}`;
  if (left >= minimum) return { step: 'concurrency', ok: true, detail: `${detail} (Lambda keeps ${minimum})` };
  return {
    step: 'concurrency',
    ok: false,
    detail: `${detail}, below the ${minimum} Lambda keeps unreserved: the deploy would fail on ReservedConcurrentExecutions`,
    todo: `deploy without -c reservedConcurrency=true (the maintenance lock already serialises runs), or raise "Concurrent executions" (Service Quotas, lambda L-B99A9384) to ${100 + (quota - unreserved) + reserved} or more`,
  };
}
