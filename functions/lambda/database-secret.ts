import type { MiddlewareObj, Request } from '@middy/core';
import secretsManager from '@middy/secrets-manager';
import { clearCache, getInternal } from '@middy/util';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { DatabaseUnavailableError, InputError } from '../shared/errors';
import { parseOrThrow, portSchema } from '../shared/parse';

/** The JSON an RDS-managed (or rotation-Lambda-managed) secret holds. */
const databaseSecretSchema = z.object({
  username: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
  password: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
  host: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
  port: portSchema().default(5432),
  dbname: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).default('postgres'),
  engine: z.string().optional(),
});

export type DatabaseSecret = z.infer<typeof databaseSecretSchema>;

const EXPECTED = 'expected the RDS secret shape {"username", "password", "host", "port", "dbname"}';

/**
 * Checks a fetched secret value. Messages name the secret and the fields, never a value:
 * the value holds the password.
 */
export function parseDatabaseSecret(value: unknown, secretArn: string): DatabaseSecret {
  // @middy/secrets-manager hands back the raw string when SecretString is not JSON.
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(`secret ${secretArn} is not a JSON object: ${EXPECTED}`);
  }
  return parseOrThrow(databaseSecretSchema, value, {
    error: (problems) => new InputError(`secret ${secretArn} is not a database secret (${problems.join('; ')}): ${EXPECTED}`),
  });
}

/** postgres:// URL for a secret; user and password are percent-encoded, so any character is safe. */
export function secretUrl(secret: DatabaseSecret): string {
  const host = secret.host.includes(':') && !secret.host.startsWith('[') ? `[${secret.host}]` : secret.host;
  return `postgres://${encodeURIComponent(secret.username)}:${encodeURIComponent(secret.password)}@${host}:${secret.port}/${encodeURIComponent(secret.dbname)}`;
}

/** Secrets Manager calls must end in bounded time: an unreachable endpoint fails the run within seconds. */
export const SECRETS_CLIENT_OPTIONS = {
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
};

/** Where @middy/secrets-manager puts the value in request.internal. */
const INTERNAL_KEY = 'databaseSecret';

/** request.internal as the secret middleware leaves it (a promise of the value, until read). */
export type SecretInternal = { [INTERNAL_KEY]: unknown };
type SecretRequest = Request<unknown, unknown, Error, Context, SecretInternal>;

/**
 * The database secret of a handler: @middy/secrets-manager, chained before the connection
 * middleware, fetches it on the first invocation (no AWS call at import: disablePrefetch) and
 * caches it across invocations; the connection middleware reads it with `read`.
 */
export interface DatabaseSecretSource {
  readonly secretArn: string;
  /** The middleware to chain. */
  readonly middleware: MiddlewareObj<unknown, unknown, Error, Context, SecretInternal>;
  /** The secret the middleware fetched for this request, checked. */
  read(request: SecretRequest): Promise<DatabaseSecret>;
  /** Drops the cached value: the next invocation fetches it again. */
  forget(): void;
  /** Fetches it again now, for this request (the password was rotated). */
  refetch(request: SecretRequest): Promise<void>;
}

/** The secret middleware of a handler whose environment names DB_SECRET_ARN, and what the connection does with it. */
export function databaseSecretSource(secretArn: string): DatabaseSecretSource {
  // Per secret, so that forgetting it drops exactly that entry of @middy/util's cache.
  const cacheKey = `secrets-manager:${secretArn}`;
  const middleware = secretsManager({
    fetchData: { [INTERNAL_KEY]: secretArn },
    cacheKey,
    cacheExpiry: -1,
    // Prefetching would call AWS at import; the first invocation fetches instead.
    disablePrefetch: true,
    awsClientOptions: SECRETS_CLIENT_OPTIONS,
  });
  const forget = () => clearCache([cacheKey]);
  return {
    secretArn,
    middleware,
    forget,
    async read(request) {
      let value: unknown;
      try {
        value = (await getInternal([INTERNAL_KEY], request))[INTERNAL_KEY];
      } catch (error) {
        throw new DatabaseUnavailableError(`cannot read the database secret ${secretArn}: ${describeAwsError(error)}`, { cause: error });
      }
      return parseDatabaseSecret(value, secretArn);
    },
    async refetch(request) {
      forget();
      // The one call of the middleware outside the chain: the chain ran it already for this
      // request, and the rotated password is needed before this request connects.
      await middleware.before?.(request);
    },
  };
}

/** The SDK's error names say what went wrong (ResourceNotFoundException, AccessDeniedException, ...). */
export function describeAwsError(error: unknown): string {
  const causes = (error as { cause?: { data?: unknown[] } })?.cause?.data ?? [error];
  return causes.map((cause) => (cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause))).join('; ');
}
