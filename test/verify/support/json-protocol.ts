import type { Reply, SeenRequest } from './http-endpoint';

/** The AWS JSON protocols (SSM, Service Quotas, the Free Tier API): `X-Amz-Target: Service.Operation`, JSON in and out. */

/** The operation a JSON-protocol request names, without its service prefix. */
export function jsonOperation(request: SeenRequest): string | undefined {
  const target = request.headers['x-amz-target'];
  return typeof target === 'string' ? target.split('.').pop() : undefined;
}

export function jsonBody(request: SeenRequest): Record<string, unknown> {
  return request.body ? (JSON.parse(request.body) as Record<string, unknown>) : {};
}

export function jsonResult(body: unknown): Reply {
  return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(body) };
}

/** An error as these services send it: the code in `__type` and in the x-amzn-errortype header. */
export function jsonError(status: number, code: string, message: string): Reply {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': code },
    body: JSON.stringify({ __type: code, message }),
  };
}
