import { type CloudFormationClient, DescribeStacksCommand, type Stack } from '@aws-sdk/client-cloudformation';
import { InputError } from '../../functions/shared/errors';
import { HANDLER_OPERATIONS, type HandlerOperation } from '../bundling';
import { STACK_OUTPUTS } from '../stack-contract';
import { failedAwsStep, type StepResult } from './step';

/** What the stack's outputs give the other steps. */
export interface DeployedStack {
  name: string;
  functions: Record<HandlerOperation, string>;
  alarmTopicArn: string;
  metricsNamespace: string;
  /** The archive bucket; undefined when the stack was deployed with archiving off. */
  archiveBucket: string | undefined;
}

/** Statuses of a stack whose last operation finished well. */
const SETTLED = ['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'IMPORT_COMPLETE'];

/** What to do about a stack in any other status (in progress, rolled back, failed). */
function adviceForStatus(status: string, name: string): string {
  const events = `aws cloudformation describe-stack-events --stack-name ${name}`;
  if (status.endsWith('_IN_PROGRESS')) return 'a deploy is running: wait for it to finish, then run verify again';
  if (status === 'UPDATE_ROLLBACK_COMPLETE') {
    return `the last deploy failed and was rolled back; the stack runs the version before it. Read why (${events}), fix, deploy again`;
  }
  return `the stack is not usable: read why (${events}); a first deploy that rolled back must be deleted (aws cloudformation delete-stack) before deploying again`;
}

/**
 * Reads the stack: its status and the outputs the other steps need. A stack that does not exist
 * is bad input (a wrong --stack or --region); one without all outputs stops the check.
 */
export async function readStack(
  cloudformation: CloudFormationClient,
  name: string,
  region: string,
): Promise<{ result: StepResult; stack?: DeployedStack }> {
  let stack: Stack | undefined;
  try {
    stack = (await cloudformation.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
  } catch (error) {
    // A stack that does not exist is a ValidationError, an answer: bad input, not unavailability.
    if (!/does not exist/.test((error as Error).message)) {
      return { result: failedAwsStep('stack', error, 'CloudFormation', 'cloudformation:DescribeStacks on the stack') };
    }
  }
  if (!stack) {
    throw new InputError(
      `stack ${name} not found in ${region}: check --stack and --region (aws cloudformation list-stacks --region ${region} lists the stacks there)`,
    );
  }
  const status = stack.StackStatus ?? 'UNKNOWN';
  const outputs = Object.fromEntries((stack.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
  const required = [...HANDLER_OPERATIONS.map(STACK_OUTPUTS.functionName), STACK_OUTPUTS.alarmTopicArn, STACK_OUTPUTS.metricsNamespace];
  const missing = required.filter((key) => !outputs[key]);
  const settled = SETTLED.includes(status);
  if (missing.length > 0) {
    return {
      result: {
        step: 'stack',
        ok: false,
        detail: `${name} (${status}) lacks the output${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
        todo: settled ? 'deploy this version of the stack (npx cdk deploy): it writes these outputs' : adviceForStatus(status, name),
      },
    };
  }
  const deployed: DeployedStack = {
    name,
    functions: Object.fromEntries(
      HANDLER_OPERATIONS.map((operation) => [operation, outputs[STACK_OUTPUTS.functionName(operation)]]),
    ) as Record<HandlerOperation, string>,
    alarmTopicArn: outputs[STACK_OUTPUTS.alarmTopicArn] as string,
    metricsNamespace: outputs[STACK_OUTPUTS.metricsNamespace] as string,
    archiveBucket: outputs[STACK_OUTPUTS.archiveBucketName],
  };
  const detail = `${name} in ${region}: ${status}, ${HANDLER_OPERATIONS.length} functions, metrics namespace ${deployed.metricsNamespace}`;
  return { result: { step: 'stack', ok: settled, detail, ...(settled ? {} : { todo: adviceForStatus(status, name) }) }, stack: deployed };
}
