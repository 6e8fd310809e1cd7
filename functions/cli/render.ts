import type { OperationId, OperationReport } from '../operations/registry';
import { isSkipped } from '../shared/when-locked';
import { renderArchive } from './renderers/archive';
import { renderMigrate } from './renderers/migrate';
import { renderPartitions } from './renderers/partitions';
import { renderPrune } from './renderers/prune';
import { renderRestore } from './renderers/restore';
import { renderStats } from './renderers/stats';
import { renderVacuum } from './renderers/vacuum';

/** An operation's report as it ran (a skipped run is said in one line before any renderer sees it). */
type RenderedReport<Id extends OperationId> = Exclude<Extract<OperationReport, { operation: Id }>, { skipped: unknown }>;

/** A report as aligned columns: plain text for a terminal. */
type Renderer<Report> = (report: Report) => string;

/** One renderer per operation: an operation added to the registry without one does not compile. */
const RENDERERS = {
  migrate: renderMigrate,
  partitions: renderPartitions,
  prune: renderPrune,
  stats: renderStats,
  vacuum: renderVacuum,
  archive: renderArchive,
  restore: renderRestore,
} satisfies { [Id in OperationId]: Renderer<RenderedReport<Id>> };

/** A report as aligned columns, by its operation's renderer. */
export function renderReport(report: OperationReport): string {
  if (isSkipped(report)) return `${report.operation} skipped: ${report.reason}`;
  // The map pairs each id with its own report type; TypeScript cannot follow that through the union.
  const render = RENDERERS[report.operation] as Renderer<typeof report>;
  return render(report);
}
