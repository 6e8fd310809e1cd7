import type { MiddlewareObj } from '@middy/core';
import type { Operation } from '../operations/registry';
import { InputError } from '../shared/errors';
import type { Confirmation, PayloadDefaults } from '../shared/operation-definition';
import { parseOrThrow } from '../shared/parse';
import type { HandlerContext } from './connection';

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

/** Field values of the stack's defaults for one operation (see PayloadDefaults); undefined: not set. */
export type DefaultValues = Record<string, number | undefined>;

/**
 * Validates an invocation's payload against its operation's schema, with the stack's defaults
 * filled in; every problem, named by field, in one InputError.
 */
export function parseOperationEvent(operation: Operation, event: unknown, defaults: DefaultValues): Record<string, unknown> {
  const given = payloadOf(event);
  if (!isObject(given)) {
    throw new InputError(`the ${operation.id} payload must be a JSON object (got ${Array.isArray(given) ? 'an array' : typeof given})`);
  }
  const payload = namesAction(operation.defaults, given) ? given : { ...definedValues(defaults), ...given };
  return parseOrThrow(operation.payload, payload, {
    also: (parsed) => (parsed ? confirmationProblems(operation.confirmation, parsed) : unsetDefaults(operation.defaults, payload)),
    error: (problems) => new InputError(`invalid ${operation.id} payload: ${problems.join('; ')}`),
  });
}

/** Whether a payload says what to do itself, so the stack's defaults stay out of it. */
function namesAction(defaults: PayloadDefaults | undefined, payload: Record<string, unknown>): boolean {
  return !defaults || defaults.actionFields.some((field) => payload[field] !== undefined);
}

function definedValues(values: DefaultValues): Record<string, number> {
  return Object.fromEntries(Object.entries(values).flatMap(([field, value]) => (value === undefined ? [] : [[field, value]])));
}

/** A rejected payload that the defaults would have completed, had the stack set them: say so. */
function unsetDefaults(defaults: PayloadDefaults | undefined, payload: Record<string, unknown>): string[] {
  // Defaults that are no action (stats' storage limit) never complete a payload: no hint.
  if (!defaults || defaults.actionFields.length === 0 || namesAction(defaults, payload)) return [];
  return [`${Object.keys(defaults.variables).join(' and ')} (the scheduled defaults) are not set either`];
}

/**
 * A run that destroys data carries the database name as `confirm` (the runner asks for it after
 * a dry run); a missing one is refused here, before connecting. Whether it names this database
 * is the operation's check, once connected.
 */
function confirmationProblems(confirmation: Confirmation | undefined, payload: Record<string, unknown>): string[] {
  if (!confirmation) return [];
  const asked = payload[confirmation.field] === true;
  if (asked && !payload.dryRun && !payload.confirm) return [`${confirmation.field} needs "confirm": ${confirmation.confirmWith}`];
  // A confirm next to another action means the caller thinks it guards something: it does not.
  if (payload.confirm !== undefined && !asked) {
    return [`confirm only confirms ${confirmation.field}: remove it, or add "${confirmation.field}": true`];
  }
  return [];
}

/** Middleware: puts the validated payload in the context before anything else runs (nothing is connected yet). */
export function validatePayload(
  operation: Operation,
  defaults: () => DefaultValues,
): MiddlewareObj<unknown, unknown, Error, HandlerContext> {
  const validatePayloadBefore: MiddlewareObj<unknown, unknown, Error, HandlerContext>['before'] = (request) => {
    request.context.payload = parseOperationEvent(operation, request.event, defaults());
  };
  return { before: validatePayloadBefore };
}
