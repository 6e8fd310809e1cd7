import { InputError } from '../errors';
import { createDirectoryStore } from './dir-store';
import { ARCHIVE_VARIABLES } from './layout';
import { createS3Store } from './s3-store';

/**
 * Where archived objects are kept: an S3 bucket (or an S3-compatible endpoint) or a local
 * directory. The archive writes through it, prune and restore read through it.
 */
export interface ArchiveStore {
  /** `s3://<bucket>` or `file://<absolute directory>`, as the ledger records it. */
  readonly location: string;
  /**
   * Writes `body` to `key`; resolves once the whole object is in place with the bytes written.
   * Never leaves a partial object under `key` (a multipart upload completes or is aborted; a
   * file is written beside and renamed).
   */
  put(key: string, body: AsyncIterable<Uint8Array>): Promise<{ bytes: number }>;
  /** The object's size in bytes, or null when there is none. */
  size(key: string): Promise<number | null>;
  /** Bytes [start, end) of the object (explicit ranges only: no suffix ranges). */
  read(key: string, start: number, end: number): Promise<Uint8Array>;
}

/**
 * Where archives go, as the entry points read it (ARCHIVE_* variables, the runner's --to DIR):
 * a bucket (optionally on an S3-compatible endpoint) or a local directory, and the key prefix.
 */
export interface ArchiveSettings {
  bucket?: string;
  prefix: string;
  endpointUrl?: string;
  directory?: string;
  /** A ready store instead of one made from the fields above (tests inject faults through it). */
  store?: ArchiveStore;
}

/** Whether archiving is configured: a bucket or a directory is set. */
export function isArchiveConfigured(settings: ArchiveSettings | undefined): settings is ArchiveSettings {
  return Boolean(settings?.bucket || settings?.directory || settings?.store);
}

/**
 * Throws InputError, saying what to set, unless the settings name exactly one store: a bucket
 * or a directory.
 */
export function assertArchiveConfigured(settings: ArchiveSettings | undefined, operation: string): asserts settings is ArchiveSettings {
  if (settings?.store) return;
  if (settings?.bucket && settings.directory) {
    throw new InputError(
      `${operation}: both ${ARCHIVE_VARIABLES.bucket} (${settings.bucket}) and ${ARCHIVE_VARIABLES.directory} (${settings.directory}) are set: set one, the bucket in AWS or the directory locally`,
    );
  }
  if (!settings?.bucket && !settings?.directory) {
    throw new InputError(
      `${operation}: no archive is configured: set ${ARCHIVE_VARIABLES.bucket} to an S3 bucket (the stack sets it in AWS), or locally give --to DIR (${ARCHIVE_VARIABLES.directory}); ${ARCHIVE_VARIABLES.endpointUrl} points the bucket at an S3-compatible server`,
    );
  }
}

/** The store the settings name (see assertArchiveConfigured for what it refuses). */
export function createArchiveStore(settings: ArchiveSettings | undefined, operation: string): ArchiveStore {
  assertArchiveConfigured(settings, operation);
  if (settings.store) return settings.store;
  if (settings.directory) return createDirectoryStore(settings.directory);
  return createS3Store({ bucket: settings.bucket ?? '', endpointUrl: settings.endpointUrl });
}
