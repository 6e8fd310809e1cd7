import type { VacuumReport } from '../../operations/vacuum/vacuum';
import { renderColumns } from './columns';

export function renderVacuum(r: VacuumReport): string {
  const rows = r.steps.map((step) => [
    step.action,
    step.relation,
    step.reason,
    step.status,
    step.duration_ms === undefined ? '' : `${step.duration_ms} ms`,
  ]);
  const totals = r.dry_run
    ? `would seal ${r.steps.filter((step) => step.action === 'seal').length} partitions and analyze ${r.steps.filter((step) => step.action === 'analyze').length} tables`
    : `sealed ${r.partitions_sealed} partitions, analyzed ${r.tables_analyzed} tables`;
  return [
    r.dry_run ? 'vacuum (dry run: nothing was run)' : 'vacuum',
    rows.length ? renderColumns(['step', 'relation', 'why', 'status', 'took'], rows) : 'nothing to do',
    `${totals}; ${r.partitions_already_sealed} closed partitions already sealed`,
    ...r.steps.filter((step) => step.error).map((step) => `error: ${step.relation}: ${step.error}`),
  ].join('\n');
}
