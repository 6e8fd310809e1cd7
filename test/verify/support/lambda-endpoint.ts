import { type BundledHandler, type EmfDocument, invoke } from '../../support/handlers';
import { type HttpEndpoint, type Reply, startHttpEndpoint } from './http-endpoint';

/** A function the endpoint serves: a built handler bundle, or a throttle for every synchronous call. */
export interface LocalFunction {
  handler: BundledHandler;
  /** Answer RequestResponse calls with TooManyRequestsException, as Lambda does when no concurrency is left. */
  throttled?: boolean;
}

/**
 * Lambda's Invoke over its REST-JSON protocol (`POST /2015-03-31/functions/{name}/invocations`),
 * running our real bundles: RequestResponse runs the handler and returns its report, or its
 * error as Lambda does (200, `X-Amz-Function-Error: Unhandled`, `{errorType, errorMessage,
 * trace}`); Event is queued (202) and kept in `queued`; DryRun answers 204. Function names may be
 * ARNs, with or without a version. The EMF each run writes goes to `onMetrics`.
 */
export interface LambdaEndpoint extends HttpEndpoint {
  functions: Map<string, LocalFunction>;
  queued: { functionName: string; payload: unknown }[];
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

function lambdaError(status: number, type: string, message: string, extra: Record<string, unknown> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': type },
    body: JSON.stringify({ Type: 'User', message, ...extra }),
  };
}

/** `arn:aws:lambda:eu-west-1:123456789012:function:name:7` -> `name`. */
function functionNameOf(nameOrArn: string): string {
  return nameOrArn.startsWith('arn:') ? (nameOrArn.split(':')[6] ?? nameOrArn) : (nameOrArn.split(':')[0] ?? nameOrArn);
}

export async function startLambdaEndpoint(onMetrics: (documents: EmfDocument[]) => void = () => undefined): Promise<LambdaEndpoint> {
  const functions = new Map<string, LocalFunction>();
  const queued: LambdaEndpoint['queued'] = [];
  const endpoint = await startHttpEndpoint(async (request) => {
    const path = INVOKE_PATH.exec(request.path);
    if (request.method !== 'POST' || !path)
      return lambdaError(400, 'InvalidRequestContentException', `unsupported ${request.method} ${request.path}`);
    const functionName = functionNameOf(path[1] ?? '');
    const target = functions.get(functionName);
    if (!target) return lambdaError(404, 'ResourceNotFoundException', `Function not found: ${path[1]}`);
    const invocationType = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    const payload = request.body ? (JSON.parse(request.body) as unknown) : {};
    if (invocationType === 'DryRun') return { status: 204 };
    if (invocationType === 'Event') {
      queued.push({ functionName, payload });
      return { status: 202 };
    }
    if (target.throttled) {
      return lambdaError(429, 'TooManyRequestsException', 'Rate Exceeded.', {
        Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
      });
    }
    const outcome = await invoke(target.handler, payload, functionName);
    onMetrics(outcome.emf);
    const headers = { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' };
    if (!outcome.error) return { status: 200, headers, body: JSON.stringify(outcome.result ?? null) };
    const { name, message, stack } = outcome.error;
    return {
      status: 200,
      headers: { ...headers, 'x-amz-function-error': 'Unhandled' },
      body: JSON.stringify({ errorType: name, errorMessage: message, trace: (stack ?? '').split('\n') }),
    };
  });
  return Object.assign(endpoint, { functions, queued });
}
