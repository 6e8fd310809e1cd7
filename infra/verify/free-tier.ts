import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider, ChecksumConstructor, HashConstructor } from '@smithy/types';

/** What the Free Tier API's GetAccountPlanState answers. */
export interface AccountPlanState {
  accountId?: string;
  /** FREE or PAID. */
  accountPlanType?: string;
  /** NOT_STARTED, ACTIVE or EXPIRED. */
  accountPlanStatus?: string;
  accountPlanRemainingCredits?: { amount?: number; unit?: string };
  /** Epoch seconds, as the JSON protocol sends timestamps. */
  accountPlanExpirationDate?: number | string;
}

/** How the other clients sign: their credential chain and hash, reused so the same identity asks. */
export interface Signing {
  credentials: AwsCredentialIdentityProvider;
  sha256: ChecksumConstructor | HashConstructor;
}

/** The Free Tier API has one endpoint in the aws partition, signed for us-east-1. */
const FREE_TIER_ENDPOINT = 'https://freetier.us-east-1.api.aws';

/** A service error shaped as the SDK's (name = error code, HTTP status): describeAwsError treats it alike. */
class FreeTierServiceError extends Error {
  constructor(
    name: string,
    message: string,
    readonly $metadata: { httpStatusCode: number },
  ) {
    super(message);
    this.name = name;
  }
}

/** `aws.protocols#...#AccessDeniedException:...` -> `AccessDeniedException`. */
function errorCode(raw: string): string {
  return raw.split(':')[0]?.split('#').pop() || 'UnknownError';
}

/**
 * GetAccountPlanState, signed with SigV4 and sent over the JSON 1.0 protocol. The npm registry
 * has no @aws-sdk/client-freetier, so this one call is made by hand; AWS_ENDPOINT_URL_FREETIER
 * (or AWS_ENDPOINT_URL) points it elsewhere, as the SDK clients' variables do.
 */
export async function getAccountPlanState(signing: Signing): Promise<AccountPlanState> {
  const url = new URL(process.env.AWS_ENDPOINT_URL_FREETIER || process.env.AWS_ENDPOINT_URL || FREE_TIER_ENDPOINT);
  const signer = new SignatureV4({ ...signing, service: 'freetier', region: 'us-east-1' });
  const request = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query: {},
    headers: {
      host: url.host,
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'AWSFreeTierService.GetAccountPlanState',
    },
    body: '{}',
  });
  // A connection that hangs must not hang the preflight: a timeout reads as AWS out of reach (exit 3).
  const response = await fetch(url, { method: 'POST', headers: request.headers, body: '{}', signal: AbortSignal.timeout(30_000) });
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.ok) return body as AccountPlanState;
  const code = errorCode(response.headers.get('x-amzn-errortype') ?? String(body.__type ?? ''));
  throw new FreeTierServiceError(code, String(body.message ?? body.Message ?? response.statusText), { httpStatusCode: response.status });
}
