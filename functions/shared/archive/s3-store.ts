import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ArchiveStore } from './store';

/** Where an S3 store writes: a bucket, and an S3-compatible endpoint instead of AWS S3 when given. */
export interface S3StoreOptions {
  bucket: string;
  /** An S3-compatible server (s3rver, MinIO): path-style URLs, and checksums only where the API requires them. */
  endpointUrl?: string;
  /** A ready client (tests); otherwise one is made from `endpointUrl` and the SDK's default chain. */
  client?: S3Client;
}

/**
 * The client for a store. Against AWS S3 it keeps the SDK's defaults (region and credentials
 * from the environment or the Lambda role; CRC32 checksums, which S3 verifies). An
 * S3-compatible endpoint gets path-style URLs and checksums only when required: with the
 * default, s3rver stores a streamed PutObject with its aws-chunked framing inside the object.
 * Such endpoints ignore the region, so us-east-1 stands in when the environment names none.
 */
export function createS3Client(endpointUrl?: string): S3Client {
  if (!endpointUrl) return new S3Client({});
  return new S3Client({
    endpoint: endpointUrl,
    forcePathStyle: true,
    region: 'us-east-1',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/**
 * An ArchiveStore on S3. `put` goes through lib-storage's Upload: a single PutObject for a small
 * object, a multipart upload (5 MiB parts, four in flight at most) for a larger one, which S3
 * assembles only at CompleteMultipartUpload; when the body fails, Upload aborts the multipart
 * upload, and either way nothing appears under the key. (Parts of an upload whose process
 * was killed stay invisible until the bucket's lifecycle rule removes them.)
 */
export function createS3Store(options: S3StoreOptions): ArchiveStore {
  const client = options.client ?? createS3Client(options.endpointUrl);
  const Bucket = options.bucket;
  return {
    location: `s3://${Bucket}`,
    async put(key, body) {
      const read = { bytes: 0, failure: undefined as unknown };
      const counted = Readable.from(countBytes(body, read));
      try {
        await new Upload({ client, params: { Bucket, Key: key, Body: counted, ContentType: 'application/vnd.apache.parquet' } }).done();
      } catch (error) {
        // When the body failed, Upload's abort error (if any) would hide why: report the body's.
        throw read.failure ?? error;
      }
      return { bytes: read.bytes };
    },
    async size(key) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket, Key: key }));
        return head.ContentLength ?? 0;
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    },
    async read(key, start, end) {
      if (end <= start) return new Uint8Array(0);
      const object = await client.send(new GetObjectCommand({ Bucket, Key: key, Range: `bytes=${start}-${end - 1}` }));
      if (!object.Body) throw new Error(`s3://${Bucket}/${key}: GetObject returned no body`);
      return object.Body.transformToByteArray();
    },
  };
}

async function* countBytes(body: AsyncIterable<Uint8Array>, read: { bytes: number; failure: unknown }): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of body) {
      read.bytes += chunk.byteLength;
      yield chunk;
    }
  } catch (error) {
    read.failure = error;
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}
