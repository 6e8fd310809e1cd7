import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../functions/shared/archive/s3-store';
import type { S3rverClass } from './tool-types';
import { requireTestTool } from './tools';

// The SDK warns once per process, on Node < 22, that releases after January 2027 will need
// Node 22 (these machines run Node 20; Lambda runs 24). It is about the machine, not the test.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** s3rver's fixed credentials: it checks every request's signature against them. */
export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } as const;

/** A running local S3 server with one bucket, and a client for it. */
export interface LocalS3 {
  endpointUrl: string;
  bucket: string;
  /** Configured as the archive configures one for an S3-compatible endpoint (checksums WHEN_REQUIRED). */
  client: S3Client;
  /** Every key in the bucket under `prefix`. */
  keys(prefix?: string): Promise<string[]>;
  /** Empties the bucket, for the next test. */
  clear(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts s3rver on a free port with its files in a temp directory of this test file (removed
 * with it), and a bucket. Its credentials are set in this process's environment (for the SDK's
 * default chain, as a handler would find them).
 */
export async function startLocalS3(bucket = 'archive-test'): Promise<LocalS3> {
  const S3rver = requireTestTool<S3rverClass>('s3rver');
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: mkdtempSync(join(tmpdir(), 's3rver-')),
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  Object.assign(process.env, S3RVER_CREDENTIALS);
  const endpointUrl = `http://127.0.0.1:${port}`;
  const client = createS3Client(endpointUrl);
  const keys = async (prefix = '') => {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return (listed.Contents ?? []).map((object) => object.Key ?? '').sort();
  };
  return {
    endpointUrl,
    bucket,
    client,
    keys,
    async clear() {
      for (const key of await keys()) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    async stop() {
      client.destroy();
      await server.close();
    },
  };
}
