import * as z from 'zod';
import { DEFAULT_MAINTENANCE_SETTINGS } from './db/settings';

/** The payload fields, flags and help lines more than one operation's definition uses. */

/** Days, as a payload number and as an environment variable's text: one rule, one message. */
export const days = ({ min, max }: { min: number; max: number }) => ({
  min,
  max,
  error: `must be a whole number of days from ${min} to ${max}`,
});

/** What `<command> --help` lists for the commands that change tables (docs/configuration.md has them all). */
export const DDL_ENVIRONMENT = [
  ['DB_LOCK_TIMEOUT_MS', `longest wait for a table lock per DDL attempt (default ${DEFAULT_MAINTENANCE_SETTINGS.lockTimeoutMs})`],
  ['DB_DDL_ATTEMPTS', `attempts per DDL step (default ${DEFAULT_MAINTENANCE_SETTINGS.ddlAttempts})`],
] as const;
export const BATCH_ENVIRONMENT = [
  'MAINTENANCE_BATCH_SIZE',
  `rows per transaction when moving or deleting rows (default ${DEFAULT_MAINTENANCE_SETTINGS.batchSize})`,
] as const;
export const DROP_GROUP_ENVIRONMENT = [
  'MAINTENANCE_DROP_GROUP_SIZE',
  `partitions of one table dropped per transaction (default ${DEFAULT_MAINTENANCE_SETTINGS.dropGroupSize})`,
] as const;

/** An optional on/off payload field. */
export const switchValue = z.boolean({ error: 'must be true or false' }).optional();

/** A nightly schedule's delivery: a few retries within two hours, before the next night's run is near. */
export const NIGHTLY = { retryAttempts: 3, maxEventAgeMinutes: 120 } as const;

/**
 * A nightly maintenance function: the whole 15 minutes Lambda allows (its deadline stops it between
 * two steps), one reserved execution (with reservedConcurrency=true), a failure retried twice within
 * 6 hours (a LockBusyError or a partial failure clears on a retry), the maintenance login.
 */
export const NIGHTLY_FUNCTION = {
  timeoutMinutes: 15,
  reservedConcurrency: 1,
  retryAttempts: 2,
  maxEventAgeMinutes: 6 * 60,
  login: 'maintenance',
} as const;
