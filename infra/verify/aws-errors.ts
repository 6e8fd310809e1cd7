import { PerpsDbError } from '../../functions/shared/errors';

/** AWS cannot be reached, or refuses the credentials: nothing about the stack is known. */
export class AwsUnavailableError extends PerpsDbError {
  override readonly exitCode = 3;
  override readonly retryable = true;
}

/** Error names of credentials that are missing, expired or not valid (HTTP 400/403 from any service). */
const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
]);

/**
 * Whether an SDK error says AWS is out of reach for this caller: no credentials (or bad ones),
 * or no HTTP answer at all (DNS, refused connection, timeout). A service's own error (access
 * denied to one action, a missing function) is an answer: the step that got it fails alone.
 */
export function isAwsUnavailable(error: unknown): boolean {
  const { name, $metadata } = (error ?? {}) as { name?: string; $metadata?: { httpStatusCode?: number } };
  return CREDENTIAL_ERRORS.has(name ?? '') || $metadata?.httpStatusCode === undefined;
}

/** Rethrows an unreachable-AWS error as AwsUnavailableError (exit 3); returns any other error's message. */
export function describeAwsError(error: unknown, service: string): string {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  if (isAwsUnavailable(error)) {
    throw new AwsUnavailableError(
      `cannot reach ${service} with these credentials (${message}): check the network, AWS_PROFILE or the access keys (aws sts get-caller-identity)`,
      { cause: error },
    );
  }
  return message;
}
