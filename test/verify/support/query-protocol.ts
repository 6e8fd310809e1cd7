import type { Reply, SeenRequest } from './http-endpoint';

/**
 * The AWS query protocol (CloudFormation, SNS): form-encoded `Action=...&Version=...` in, XML
 * out. Just enough XML to answer the few actions the tests need.
 */

/** The form parameters of a query-protocol request. */
export function queryParams(request: SeenRequest): URLSearchParams {
  return new URLSearchParams(request.body);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * XML elements from a plain value: objects become child elements, arrays lists of `<member>`,
 * or of the element `memberNames` gives for the list's own name (RDS names its members).
 */
export function toXml(value: unknown, memberNames: Record<string, string> = {}, member = 'member'): string {
  if (Array.isArray(value)) return value.map((item) => `<${member}>${toXml(item, memberNames)}</${member}>`).join('');
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .filter(([, inner]) => inner !== undefined)
      .map(([key, inner]) => `<${key}>${toXml(inner, memberNames, memberNames[key] ?? 'member')}</${key}>`)
      .join('');
  }
  return escapeXml(String(value));
}

/** A successful answer: `<ActionResponse><ActionResult>...</ActionResult>...</ActionResponse>`. */
export function queryResult(
  action: string,
  namespace: string,
  result: Record<string, unknown>,
  memberNames?: Record<string, string>,
): Reply {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml' },
    body: `<${action}Response xmlns="${namespace}"><${action}Result>${toXml(result, memberNames)}</${action}Result><ResponseMetadata><RequestId>local-1</RequestId></ResponseMetadata></${action}Response>`,
  };
}

/** An error answer, as the service sends it. */
export function queryError(namespace: string, status: number, code: string, message: string): Reply {
  return {
    status,
    headers: { 'content-type': 'text/xml' },
    body: `<ErrorResponse xmlns="${namespace}"><Error><Type>Sender</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>local-1</RequestId></ErrorResponse>`,
  };
}
