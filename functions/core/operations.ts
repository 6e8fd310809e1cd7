import type { OperationContext } from './context';
import type { PartitionsEvent, PruneEvent } from './inputs';
import { type MigrateReport, migrate } from './migrate';
import { ensurePartitions, type PartitionsReport } from './partitions';
import { type PruneReport, prune } from './prune';
import { collectStats, type StatsReport } from './stats';

/** The operation ids: they name the handler folder, the CLI command and the metric dimension. */
export type OperationId = 'migrate' | 'partitions' | 'prune' | 'stats';

/** The local runner's `init`: the migrate handler, then the partitions handler. */
export interface InitReport {
  operation: 'init';
  migrate: MigrateReport;
  partitions: PartitionsReport;
}

export type OperationReport = MigrateReport | PartitionsReport | PruneReport | StatsReport | InitReport;

/** What an entry point asks for: an operation id and its validated event. */
export type OperationRequest =
  | { operation: 'migrate'; event: Record<string, never> }
  | { operation: 'partitions'; event: PartitionsEvent }
  | { operation: 'prune'; event: PruneEvent }
  | { operation: 'stats'; event: Record<string, never> };

/** Runs one operation; the single dispatch every entry point goes through. */
export async function runOperation(ctx: OperationContext, request: OperationRequest): Promise<OperationReport> {
  switch (request.operation) {
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
