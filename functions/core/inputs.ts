import * as z from 'zod';
import { fillNames } from './names';
import { prunePlanProblems } from './prune';

/**
 * One schema per operation payload: the local runner builds these from flags, the Lambda
 * handlers receive them as events. Unknown keys are rejected; every problem is reported.
 */
const wholeDays = (min: number, max: number) => {
  const error = `must be a whole number of days from ${min} to ${max}`;
  // abort: a huge value (1e23) fails int and max alike; one line says it, not the same line twice.
  return z.number({ error }).int({ error, abort: true }).min(min, { error }).max(max, { error });
};

export const DAYS_AHEAD = { min: 1, max: 366, default: 7 } as const;
export const RETENTION_DAYS = { min: 1, max: 36_500 } as const;

export const migrateEventSchema = z.strictObject({});
export const partitionsEventSchema = z.strictObject({
  daysAhead: wholeDays(DAYS_AHEAD.min, DAYS_AHEAD.max).default(DAYS_AHEAD.default),
});
export const pruneEventSchema = z
  .strictObject({
    olderThanDays: wholeDays(RETENTION_DAYS.min, RETENTION_DAYS.max).optional(),
    dropPartitionsOlderThanDays: wholeDays(RETENTION_DAYS.min, RETENTION_DAYS.max).optional(),
    truncate: z.boolean({ error: 'must be true or false' }).optional(),
    confirm: z.string({ error: 'must be the database name' }).optional(),
    dryRun: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .superRefine((input, check) => {
    for (const message of prunePlanProblems(input)) check.addIssue({ code: 'custom', message, path: [] });
  });
export const statsEventSchema = z.strictObject({});

export type PartitionsEvent = z.infer<typeof partitionsEventSchema>;
export type PruneEvent = z.infer<typeof pruneEventSchema>;

/** Zod issues as "field: problem" lines; `rename` maps payload keys to the caller's words (flags). */
export function describeIssues(error: z.ZodError, rename: (key: string) => string = (key) => key): string[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `unknown ${issue.keys.length > 1 ? 'keys' : 'key'} ${issue.keys.map(rename).join(', ')}: remove ${issue.keys.length > 1 ? 'them' : 'it'}`;
    }
    const key = issue.path.map(String).join('.');
    const message = fillNames(issue.message, rename);
    return key ? `${rename(key)}: ${message}` : message;
  });
}
