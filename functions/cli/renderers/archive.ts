import type { ArchiveReport } from '../../operations/archive/archive';
import { renderColumns, size } from './columns';

export function renderArchive(r: ArchiveReport): string {
  const rows = r.partitions.map((p) => [
    p.partition,
    p.reason,
    p.status,
    p.rows ?? '',
    p.bytes === undefined ? '' : size(p.bytes),
    p.seconds === undefined ? '' : `${p.seconds} s`,
    p.key,
  ]);
  const totals = r.dry_run
    ? `would archive ${r.partitions.length} day partitions`
    : `archived ${r.partitions_archived} day partitions, ${r.rows_archived} rows, ${size(r.bytes_archived)}; ${r.partitions_failed} failed`;
  return [
    `archive to ${r.location}${r.dry_run ? ' (dry run: nothing was written)' : ''}`,
    rows.length ? renderColumns(['partition', 'why', 'status', 'rows', 'bytes', 'took', 'key'], rows) : 'nothing to do',
    `${totals}; ${r.partitions_already_archived} already archived and unchanged`,
    ...r.partitions.filter((p) => p.error).map((p) => `error: ${p.partition}: ${p.error}`),
  ].join('\n');
}
