import type { PartitionsReport } from '../../operations/partitions/partitions';
import { renderColumns } from './columns';

export function renderPartitions(r: PartitionsReport): string {
  const rows = r.tables.map((t) => [t.table, t.status, t.created.length, t.present.length, t.rows_moved, `${t.runway_days} d`]);
  const errors = r.tables.flatMap((t) => t.errors.map((e) => `error: ${t.table}: ${e}`)).join('\n');
  return [
    `partitions from ${r.today} (UTC), ${r.days_ahead} days: ${r.partitions_created} created, ${r.rows_moved} rows moved out of default partitions`,
    renderColumns(['table', 'status', 'created', 'present', 'rows moved', 'runway'], rows),
    errors,
    ...r.rows_out_of_sight.map(
      (w) => `out of sight: ${w.rows} rows of ${w.table} in ${w.relations.join(', ')} until a partitions run places them`,
    ),
  ]
    .filter(Boolean)
    .join('\n');
}
