import type { PruneAction, PrunePlanReport, PruneReport } from '../../operations/prune/prune';
import { printable } from '../../shared/printable';
import { renderColumns } from './columns';

export function renderPrune(r: PruneReport | PrunePlanReport): string {
  const rows = r.actions.map(pruneActionRow);
  // A count that includes a catalog estimate keeps its ~ in the totals too: a truncate is
  // confirmed against this report, which must not pass an estimate off as a count.
  const estimated = estimatedTables(r.actions);
  const note = estimated.size > 0 ? '~ = estimate from the catalog' : '';
  const remarks = [r.dry_run ? 'dry run: nothing was changed' : '', note].filter(Boolean).join('; ');
  const head = remarks ? `prune ${printable(r.database)} (${remarks})` : `prune ${printable(r.database)}`;
  const totals = Object.entries('rows_planned' in r ? r.rows_planned : r.rows_deleted)
    .map(([t, n]) => `${t}=${estimated.has(t) ? '~' : ''}${n}`)
    .join(' ');
  return [
    head,
    rows.length ? renderColumns(['action', 'relation', 'rows', 'status'], rows) : 'nothing to do',
    'rows_planned' in r
      ? `would remove rows: ${totals || 'none'}; partitions to drop: ${r.partitions_planned}`
      : `removed rows: ${totals || 'none'}; partitions dropped: ${r.partitions_dropped}`,
    r.archive === null ? '' : `archive: ${r.archive}; partitions kept (archive not verified): ${r.partitions_kept}`,
    ...r.actions.flatMap((a) => ('kept_because' in a && a.kept_because ? [`kept ${a.relation}: ${a.kept_because}`] : [])),
    ...r.actions.filter((a) => a.error).map((a) => `error: ${a.error}`),
  ]
    .filter(Boolean)
    .join('\n');
}

/** Tables whose row total in a prune report includes a catalog estimate. */
function estimatedTables(actions: PruneAction[]): Set<string> {
  return new Set(
    actions.flatMap((a) => {
      if (a.action === 'truncate_tables') return a.tables.filter((t) => a.rows_exact[t] === false);
      return (a.action === 'drop_partition' || a.action === 'truncate_partition') && !a.rows_exact ? [a.table] : [];
    }),
  );
}

/** One action of a prune as a table row: action, relation, rows, status. */
function pruneActionRow(a: PruneAction): (string | number)[] {
  switch (a.action) {
    case 'truncate_tables':
      return [
        'truncate',
        a.tables.join(', '),
        `${Object.values(a.rows_exact).every(Boolean) ? '' : '~'}${Object.values(a.rows).reduce((x, y) => x + y, 0)}`,
        a.status,
      ];
    case 'delete_rows':
      return [`delete rows before ${a.before}`, a.relation, a.rows ?? '?', a.status];
    case 'truncate_partition':
      return ['truncate partition', a.relation, `${a.rows_exact ? '' : '~'}${a.rows}`, a.status];
    case 'drop_partition':
      return ['drop partition', a.relation, `${a.rows_exact ? '' : '~'}${a.rows}`, a.status];
  }
}
