import { type CloudFormationClient, DescribeStacksCommand, type Stack } from '@aws-sdk/client-cloudformation';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { DefaultStackSynthesizer } from 'aws-cdk-lib';
import type { DeploySettings } from './preflight-context';
import { failedAwsStep, type StepResult } from './step';

/**
 * The bootstrap version the stack's template and assets require: the template's
 * CheckBootstrapVersion rule refuses 1 to 5 (aws-cdk-lib's DefaultStackSynthesizer; a test
 * reads the rule from a synthesized stack).
 */
export const MIN_BOOTSTRAP_VERSION = 6;

/** Statuses of a toolkit stack a deploy can use. */
const USABLE = ['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'IMPORT_COMPLETE'];

type Toolkit = { stack: Stack | undefined } | { result: StepResult };

async function readToolkitStack(cloudformation: CloudFormationClient, name: string): Promise<Toolkit> {
  try {
    return { stack: (await cloudformation.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0] };
  } catch (error) {
    if (/does not exist/.test((error as Error).message)) return { stack: undefined };
    return { result: failedAwsStep('bootstrap', error, 'CloudFormation', `cloudformation:DescribeStacks on ${name}`) };
  }
}

/** The version the bootstrap wrote to SSM (what the deploy reads), or undefined when there is none. */
async function readVersion(ssm: SSMClient, parameter: string): Promise<{ version: number | undefined } | { result: StepResult }> {
  try {
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: parameter }));
    return { version: Number(Parameter?.Value) };
  } catch (error) {
    if ((error as Error).name === 'ParameterNotFound') return { version: undefined };
    return { result: failedAwsStep('bootstrap', error, 'SSM', `ssm:GetParameter on ${parameter}`) };
  }
}

/** The CDK bootstrap of this account and region: the toolkit stack, and its version in SSM. */
export async function checkBootstrap(cloudformation: CloudFormationClient, ssm: SSMClient, settings: DeploySettings): Promise<StepResult> {
  const { qualifier, toolkitStackName: name } = settings;
  const bootstrap = `npx cdk bootstrap${qualifier === DefaultStackSynthesizer.DEFAULT_QUALIFIER ? '' : ` --qualifier ${qualifier}`}`;
  const toolkit = await readToolkitStack(cloudformation, name);
  if ('result' in toolkit) return toolkit.result;
  if (!toolkit.stack) {
    return {
      step: 'bootstrap',
      ok: false,
      detail: `no ${name} stack: this account and region are not bootstrapped for CDK`,
      todo: bootstrap,
    };
  }
  const status = toolkit.stack.StackStatus ?? 'UNKNOWN';
  if (!USABLE.includes(status)) {
    return {
      step: 'bootstrap',
      ok: false,
      detail: `${name} is ${status}`,
      todo: `read why (aws cloudformation describe-stack-events --stack-name ${name}); when nothing is in progress, run ${bootstrap} again`,
    };
  }
  const parameter = DefaultStackSynthesizer.DEFAULT_BOOTSTRAP_STACK_VERSION_SSM_PARAMETER.replace(/\$\{Qualifier\}/, qualifier);
  const read = await readVersion(ssm, parameter);
  if ('result' in read) return read.result;
  if (read.version === undefined || !(read.version >= MIN_BOOTSTRAP_VERSION)) {
    const found = read.version === undefined ? `no ${parameter}` : `${parameter} is ${read.version}`;
    return {
      step: 'bootstrap',
      ok: false,
      detail: `${name} ${status}, but ${found}: the deploy needs bootstrap version ${MIN_BOOTSTRAP_VERSION} or newer (qualifier ${qualifier})`,
      todo: `${bootstrap} (it upgrades the bootstrap in place)`,
    };
  }
  return {
    step: 'bootstrap',
    ok: true,
    detail: `${name} ${status}, version ${read.version} (${parameter}; ${MIN_BOOTSTRAP_VERSION} or newer needed)`,
  };
}
