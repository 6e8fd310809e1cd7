import type { OperationContext } from './context';
import type { PartitionsEvent, PruneEvent } from './inputs';
import { type MigrateReport, migrate } from './migrate';
import { ensurePartitions, type PartitionsReport } from './partitions';
import { type PruneReport, prune } from './prune';
import { collectStats, type StatsReport } from './stats';

/** The operation ids: they name the handler folder, the CLI command and the metric dimension. */
export type OperationId = 'migrate' | 'partitions' | 'prune' | 'stats';

export interface InitReport {
  operation: 'init';
  migrate: MigrateReport;
  partitions: PartitionsReport;
}

export type OperationReport = MigrateReport | PartitionsReport | PruneReport | StatsReport | InitReport;

/** `init`: migrations, then partitions (the seed command of a fresh database). */
export async function init(ctx: OperationContext, event: PartitionsEvent): Promise<InitReport> {
  const migrated = await migrate(ctx);
  const partitions = await ensurePartitions(ctx, event);
  return { operation: 'init', migrate: migrated, partitions };
}

/** What an entry point asks for: an operation id (or `init`) and its validated event. */
export type OperationRequest =
  | { operation: 'init'; event: PartitionsEvent }
  | { operation: 'migrate'; event: Record<string, never> }
  | { operation: 'partitions'; event: PartitionsEvent }
  | { operation: 'prune'; event: PruneEvent }
  | { operation: 'stats'; event: Record<string, never> };

/** Runs one operation; the single dispatch every entry point goes through. */
export async function runOperation(ctx: OperationContext, request: OperationRequest): Promise<OperationReport> {
  switch (request.operation) {
    case 'init':
      return init(ctx, request.event);
    case 'migrate':
      return migrate(ctx);
    case 'partitions':
      return ensurePartitions(ctx, request.event);
    case 'prune':
      return prune(ctx, request.event);
    case 'stats':
      return collectStats(ctx);
  }
}
