import type { MigrateReport } from '../../operations/migrate/migrate';
import { printable } from '../../shared/printable';
import { renderColumns } from './columns';

export function renderMigrate(r: MigrateReport): string {
  const rows = r.migrations.map((m) => [m.name, m.status, m.duration_ms === undefined ? '' : `${m.duration_ms} ms`]);
  const notices = r.notices.map((n) => `notice: ${printable(n)}`).join('\n');
  return [
    `migrate ${printable(r.database)}: ${r.applied} applied, ${r.migrations.length - r.applied} already applied`,
    renderColumns(['migration', 'status', 'duration'], rows),
    notices,
  ]
    .filter(Boolean)
    .join('\n');
}
