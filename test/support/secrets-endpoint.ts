import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setEnv } from './handlers';

/**
 * A local HTTP endpoint that speaks the Secrets Manager JSON protocol for GetSecretValue, so
 * the real AWS SDK client signs, sends and parses against it (AWS_ENDPOINT_URL_SECRETS_MANAGER).
 */
export interface SecretsEndpoint {
  url: string;
  /** Sets (or replaces) the SecretString stored under an ARN. */
  put(arn: string, secretString: string): void;
  /** GetSecretValue calls received per SecretId. */
  calls(arn: string): number;
  /** Every request's X-Amz-Target, to prove which API was called (and that no other was). */
  targets: string[];
  /** Authorization headers seen: the SDK signed its requests with SigV4. */
  authorizations: string[];
  close(): Promise<void>;
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startSecretsEndpoint(): Promise<SecretsEndpoint> {
  const secrets = new Map<string, string>();
  const counts = new Map<string, number>();
  const targets: string[] = [];
  const authorizations: string[] = [];
  const server: Server = createServer(async (request, response) => {
    const target = String(request.headers['x-amz-target'] ?? '');
    targets.push(target);
    authorizations.push(String(request.headers.authorization ?? ''));
    const reply = (status: number, payload: unknown) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify(payload));
    };
    if (target !== 'secretsmanager.GetSecretValue') {
      reply(400, { __type: 'InvalidRequestException', message: `unsupported target ${target}` });
      return;
    }
    const { SecretId } = JSON.parse(await body(request)) as { SecretId: string };
    counts.set(SecretId, (counts.get(SecretId) ?? 0) + 1);
    const value = secrets.get(SecretId);
    if (value === undefined) {
      reply(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
      return;
    }
    reply(200, {
      ARN: SecretId,
      Name: SecretId.split(':').at(-1),
      SecretString: value,
      VersionId: `v-${counts.get(SecretId)}`,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: Date.now() / 1000,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    put: (arn, secretString) => secrets.set(arn, secretString),
    calls: (arn) => counts.get(arn) ?? 0,
    targets,
    authorizations,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A started endpoint the AWS SDK of this process is pointed at; `release()` stops it and restores the environment. */
export type SdkSecretsEndpoint = SecretsEndpoint & { release(): Promise<void> };

/**
 * Starts the endpoint and points the real SDK at it: AWS_ENDPOINT_URL_SECRETS_MANAGER, a region
 * and made-up credentials to sign with (nothing leaves the machine). Call `release()` after the file.
 */
export async function useSecretsEndpoint(extraEnv: Record<string, string | undefined> = {}): Promise<SdkSecretsEndpoint> {
  const endpoint = await startSecretsEndpoint();
  const saved = setEnv({
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDLOCALTEST',
    AWS_SECRET_ACCESS_KEY: 'local-test-secret-key',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint.url,
    ...extraEnv,
  });
  return Object.assign(endpoint, {
    async release() {
      await endpoint.close();
      setEnv(saved);
    },
  });
}
