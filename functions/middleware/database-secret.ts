import * as z from 'zod';
import { InputError } from '../core/errors';
import { describeIssues } from '../core/inputs';

const PORT_ERROR = 'must be a port number from 1 to 65535';

/** The JSON an RDS-managed (or rotation-Lambda-managed) secret holds. */
const databaseSecretSchema = z.object({
  username: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
  password: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
  host: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
  port: z.coerce
    .number({ error: PORT_ERROR })
    .int({ error: PORT_ERROR })
    .min(1, { error: PORT_ERROR })
    .max(65_535, { error: PORT_ERROR })
    .default(5432),
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
  const parsed = databaseSecretSchema.safeParse(value);
  if (!parsed.success) {
    throw new InputError(`secret ${secretArn} is not a database secret (${describeIssues(parsed.error).join('; ')}): ${EXPECTED}`);
  }
  return parsed.data;
}

/** postgres:// URL for a secret; user and password are percent-encoded, so any character is safe. */
export function secretUrl(secret: DatabaseSecret): string {
  const host = secret.host.includes(':') && !secret.host.startsWith('[') ? `[${secret.host}]` : secret.host;
  return `postgres://${encodeURIComponent(secret.username)}:${encodeURIComponent(secret.password)}@${host}:${secret.port}/${encodeURIComponent(secret.dbname)}`;
}
