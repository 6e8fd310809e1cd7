import { type HttpEndpoint, startHttpEndpoint } from './http-endpoint';
import { queryError, queryParams, queryResult } from './query-protocol';

const NAMESPACE = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

/** A stack as DescribeStacks describes it. */
export interface StackDescription {
  StackName: string;
  StackStatus: string;
  Outputs: Record<string, string>;
}

/** CloudFormation's DescribeStacks over the query protocol, from stacks the test puts there. */
export interface CloudFormationEndpoint extends HttpEndpoint {
  stacks: Map<string, StackDescription>;
}

export async function startCloudFormationEndpoint(): Promise<CloudFormationEndpoint> {
  const stacks = new Map<string, StackDescription>();
  const endpoint = await startHttpEndpoint((request) => {
    const params = queryParams(request);
    const action = params.get('Action');
    if (action !== 'DescribeStacks') return queryError(NAMESPACE, 400, 'InvalidAction', `unsupported action ${action}`);
    const name = params.get('StackName') ?? '';
    const stack = stacks.get(name);
    if (!stack) return queryError(NAMESPACE, 400, 'ValidationError', `Stack with id ${name} does not exist`);
    return queryResult('DescribeStacks', NAMESPACE, {
      Stacks: [
        {
          StackName: stack.StackName,
          StackId: `arn:aws:cloudformation:eu-west-1:123456789012:stack/${stack.StackName}/local`,
          CreationTime: '2026-11-20T10:00:00.000Z',
          StackStatus: stack.StackStatus,
          Outputs: Object.entries(stack.Outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
        },
      ],
    });
  });
  return Object.assign(endpoint, { stacks });
}
