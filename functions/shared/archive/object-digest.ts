import { createHash, type Hash } from 'node:crypto';
import type { ArchiveStore } from './store';

/*
 * The archived object's content hash: SHA-256 of its bytes, as lowercase hex. The writer hashes
 * the bytes it hands the store (objectHasher); archive then reads the object back and hashes it
 * (digestObject) before the ledger records the hash, so the ledger vouches for the bytes in the
 * store, not for the bytes sent; prune and restore hash the object again and compare. One
 * definition for both stores: a directory and S3 (or any S3-compatible server) are read the
 * same way, in explicit ranges.
 */

/** The ledger column's algorithm, for messages. */
export const OBJECT_DIGEST_NAME = 'SHA-256';

/** Bytes per ranged read while hashing: a handful of GETs for a day's object, little memory. */
const DIGEST_READ_BYTES = 8 << 20;

/** A running hash of the bytes written, in order. */
export function objectHasher(): { update(chunk: Uint8Array): void; digest(): string } {
  const hash: Hash = createHash('sha256');
  return {
    update: (chunk) => {
      hash.update(chunk);
    },
    digest: () => hash.digest('hex'),
  };
}

/**
 * SHA-256 (hex) of the `bytes` bytes of `key`, read through the store DIGEST_READ_BYTES at a
 * time (the next read is in flight while one is hashed), each chunk handed to `onChunk` once
 * hashed. Throws when the object is shorter than `bytes`. Cost: the whole object read once (S3:
 * one ranged GET per 8 MiB; a directory: a sequential read of the file), and hashing it (about
 * 0.5-2 GB/s a core).
 */
export async function digestObject(
  store: ArchiveStore,
  key: string,
  bytes: number,
  onChunk: (chunk: Uint8Array) => void = () => {},
): Promise<string> {
  const hash = createHash('sha256');
  const readAt = (start: number) => store.read(key, start, Math.min(bytes, start + DIGEST_READ_BYTES));
  let next = bytes > 0 ? readAt(0) : undefined;
  for (let start = 0; next; ) {
    const chunk = await next;
    const end = Math.min(bytes, start + DIGEST_READ_BYTES);
    if (chunk.byteLength !== end - start) {
      throw new Error(
        `${store.location}/${key}: read ${chunk.byteLength} bytes at ${start}, expected ${end - start} (the object is shorter)`,
      );
    }
    start = end;
    next = start < bytes ? readAt(start) : undefined;
    hash.update(chunk);
    onChunk(chunk);
  }
  return hash.digest('hex');
}
