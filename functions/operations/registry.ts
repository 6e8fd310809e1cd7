import type { OperationDefinition } from '../shared/operation-definition';
import { archiveOperation } from './archive/definition';
import { migrateOperation } from './migrate/definition';
import { partitionsOperation } from './partitions/definition';
import { pruneOperation } from './prune/definition';
import { restoreOperation } from './restore/definition';
import { statsOperation } from './stats/definition';
import { vacuumOperation } from './vacuum/definition';

/**
 * The registry: every operation, once. The handlers and their bundles, the stack's functions,
 * the metrics and the runner's commands are derived from it. Adding an operation is its folder
 * (functions/operations/<op>/, with definition.ts) plus one line here.
 */

/** Every operation by id. */
export const OPERATIONS = {
  migrate: migrateOperation,
  partitions: partitionsOperation,
  prune: pruneOperation,
  stats: statsOperation,
  vacuum: vacuumOperation,
  archive: archiveOperation,
  restore: restoreOperation,
} as const;

/** An operation's one name (see OperationDefinition.id). */
export type OperationId = keyof typeof OPERATIONS;
/** Every operation id, in registry order: the bundles, the stack's functions, --help. */
export const OPERATION_IDS = Object.values(OPERATIONS).map((operation) => operation.id);

/** What any operation returns. */
export type OperationReport = Awaited<ReturnType<(typeof OPERATIONS)[OperationId]['run']>>;

/** Any registry entry, seen without its own payload type (its `payload` schema makes the payload its `run` gets). */
export type Operation = OperationDefinition<Record<string, unknown>, OperationReport>;

type CountsOf<M> = M extends { counts?: infer C } ? (C extends Readonly<Record<string, number>> ? keyof C & string : never) : never;
/** The counts the operations report (MigrationsApplied, RowsDeleted, ...): each entry names its own in `metrics`. */
export type OperationCount = CountsOf<ReturnType<(typeof OPERATIONS)[OperationId]['metrics']>>;
/**
 * Published by every invocation, dimension `Operation`: Success or Failure (1, the one that
 * happened) and the report's counts that are not zero. How long a run took is in its log line and
 * in Lambda's own Duration metric, which costs nothing.
 */
export type OperationMetric = 'Success' | 'Failure' | OperationCount;
