import type { MiddlewareObj } from '@middy/core';
import type { ZodType } from 'zod';
import { InputError } from '../core/errors';
import { describeIssues, migrateEventSchema, partitionsEventSchema, pruneEventSchema, statsEventSchema } from '../core/inputs';
import type { OperationId } from '../core/operations';
import type { HandlerEnvironment } from './environment';

const EVENT_SCHEMAS: Record<OperationId, ZodType> = {
  migrate: migrateEventSchema,
  partitions: partitionsEventSchema,
  prune: pruneEventSchema,
  stats: statsEventSchema,
};

const PRUNE_ACTIONS = ['olderThanDays', 'dropPartitionsOlderThanDays', 'truncate'] as const;

/**
 * The payload an invocation carries. EventBridge Scheduler and `aws lambda invoke` pass it as
 * the event itself; an EventBridge rule wraps it in `detail`; an invoke without payload gives
 * null or `{}`.
 */
export function payloadOf(event: unknown): unknown {
  if (event === null || event === undefined) return {};
  if (typeof event === 'object' && (event as { source?: unknown }).source === 'aws.events' && 'detail-type' in event) {
    return (event as { detail?: unknown }).detail ?? {};
  }
  return event;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const namesPruneAction = (payload: Record<string, unknown>) => PRUNE_ACTIONS.some((key) => payload[key] !== undefined);

/**
 * Fills what the payload leaves out from the stack's environment. For prune the retention
 * defaults apply only when the payload names no action: a manual `{olderThanDays: 30}` means
 * exactly that, not that plus the scheduled partition drop.
 */
function withDefaults(operation: OperationId, payload: Record<string, unknown>, defaults: HandlerEnvironment['defaults']) {
  if (operation === 'partitions') return { daysAhead: defaults.daysAhead, ...payload };
  if (operation !== 'prune' || namesPruneAction(payload)) return payload;
  const { olderThanDays, dropPartitionsOlderThanDays } = defaults;
  return {
    ...(olderThanDays === undefined ? {} : { olderThanDays }),
    ...(dropPartitionsOlderThanDays === undefined ? {} : { dropPartitionsOlderThanDays }),
    ...payload,
  };
}

/** Validates an operation's payload against its schema; every problem, named by field, in one InputError. */
export function parseOperationEvent(operation: OperationId, event: unknown, defaults: HandlerEnvironment['defaults']): unknown {
  const given = payloadOf(event);
  if (!isObject(given)) {
    throw new InputError(`the ${operation} payload must be a JSON object (got ${Array.isArray(given) ? 'an array' : typeof given})`);
  }
  const payload = withDefaults(operation, given, defaults);
  const parsed = EVENT_SCHEMAS[operation].safeParse(payload);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error);
    if (operation === 'prune' && !namesPruneAction(payload)) {
      problems.push('PRUNE_OLDER_THAN_DAYS and PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS (the scheduled defaults) are not set either');
    }
    throw new InputError(`invalid ${operation} payload: ${problems.join('; ')}`);
  }
  const prune = parsed.data as { truncate?: boolean; dryRun?: boolean; confirm?: string };
  // The CLI asks for the name after connecting; a payload must carry it, so a missing one is
  // refused here, before connecting. Whether it names this database is checked once connected.
  if (operation === 'prune' && prune.truncate && !prune.dryRun && !prune.confirm) {
    throw new InputError('invalid prune payload: truncate needs "confirm": the name of the database to empty');
  }
  // A confirm next to a retention action means the caller thinks it guards something: it does not.
  if (operation === 'prune' && prune.confirm !== undefined && !prune.truncate) {
    throw new InputError('invalid prune payload: confirm only confirms truncate: remove it, or add "truncate": true');
  }
  return parsed.data;
}

/** Middleware: replaces the raw event with the validated payload before anything else runs. */
export function validateEvent(operation: OperationId, defaults: () => HandlerEnvironment['defaults']): MiddlewareObj {
  const validateEventBefore: MiddlewareObj['before'] = (request) => {
    request.event = parseOperationEvent(operation, request.event, defaults());
  };
  return { before: validateEventBefore };
}
