import type { MiddlewareObj, Request } from '@middy/core';
import secretsManager from '@middy/secrets-manager';
import { getInternal } from '@middy/util';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { DatabaseUnavailableError, InputError } from '../shared/errors';
import { LOGIN_PURPOSES, type LoginPurpose, type ManagedLogins } from '../shared/logins';
import { parseOrThrow } from '../shared/parse';
import { describeAwsError, SECRETS_CLIENT_OPTIONS } from './database-secret';

/** What migrate reads of a login's secret (the RDS shape; host and port are the database secret's). */
const loginSecretSchema = z.object({
  username: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
  password: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
});

const internalKey = (purpose: LoginPurpose) => `${purpose}LoginSecret`;

/** Checks a login secret's value; messages name the secret and the fields, never a value. */
export function parseLoginSecret(value: unknown, secretArn: string): z.infer<typeof loginSecretSchema> {
  const expected = 'expected a JSON object with "username" and "password"';
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError(`secret ${secretArn} is not a JSON object: ${expected}`);
  return parseOrThrow(loginSecretSchema, value, {
    error: (problems) => new InputError(`secret ${secretArn} is not a login secret (${problems.join('; ')}): ${expected}`),
  });
}

/** The middleware to chain, and how to read what it fetched. */
export interface LoginSecretsSource {
  readonly middleware: MiddlewareObj<unknown, unknown, Error, Context>;
  read(request: Request<unknown, unknown, Error, Context>): Promise<ManagedLogins>;
}

/**
 * The login secrets migrate makes its logins from, read at every invocation and never cached:
 * a warm migrate holding a password from before a rotation would set it back and lock the
 * functions out. No AWS call at import.
 */
export function loginSecretsSource(secretArns: Partial<Record<LoginPurpose, string>>): LoginSecretsSource {
  const purposes = LOGIN_PURPOSES.filter((purpose) => secretArns[purpose]);
  const middleware = secretsManager({
    fetchData: Object.fromEntries(purposes.map((purpose) => [internalKey(purpose), secretArns[purpose] ?? ''])),
    cacheKey: 'secrets-manager:function-logins',
    cacheExpiry: 0,
    disablePrefetch: true,
    awsClientOptions: SECRETS_CLIENT_OPTIONS,
  });
  return {
    middleware,
    async read(request) {
      const logins: ManagedLogins = {};
      for (const purpose of purposes) {
        const arn = secretArns[purpose] ?? '';
        let value: unknown;
        try {
          value = ((await getInternal([internalKey(purpose)], request)) as Record<string, unknown>)[internalKey(purpose)];
        } catch (error) {
          throw new DatabaseUnavailableError(`cannot read the ${purpose} login's secret ${arn}: ${describeAwsError(error)}`, {
            cause: error,
          });
        }
        logins[purpose] = { ...parseLoginSecret(value, arn), source: arn };
      }
      return logins;
    },
  };
}
