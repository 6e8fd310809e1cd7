import type { RestoreReport } from '../../operations/restore/restore';
import { renderColumns, size } from './columns';

export function renderRestore(r: RestoreReport): string {
  const before = r.partition_rows_before === null ? 'no partition' : `${r.partition_rows_before} rows`;
  // A checksum that differs from the ledger's fails the restore: only a match reaches a report.
  const matches = r.ledger_checksum_matches ? "; the ledger's checksum matches" : '';
  return [
    `restore ${r.table} ${r.day}${r.dry_run ? ' (dry run: nothing was changed)' : ''}`,
    renderColumns(
      ['', ''],
      [
        ['object', `${r.location}/${r.object_key} (key from the ${r.key_from})`],
        ['object size', `${size(r.object_bytes)}, ${r.object_rows} rows${r.ledger_rows === null ? '' : ` (ledger: ${r.ledger_rows})`}`],
        [
          r.partition,
          `${before}${r.needs_replace ? ': a run without --replace refuses' : r.replace && r.partition_rows_before !== null ? ', replaced' : ''}`,
        ],
        ['default partition', `${r.dry_run ? r.default_rows : r.rows_swept} rows of the day, moved in by the attach`],
        ...(r.dry_run ? [] : [['written meanwhile', `${r.late_rows} rows written into ${r.partition} while the archive loaded, moved in`]]),
        ...(r.kept_table
          ? [['kept', `${r.kept_table}: the replaced partition, changed while the archive loaded; move the rows you want, then drop it`]]
          : []),
        ...(r.dry_run ? [] : [['loaded', `${r.rows_loaded} rows, checksum ${r.checksum}${matches}`]]),
      ],
    )
      .split('\n')
      .slice(1)
      .join('\n'),
  ].join('\n');
}
