import * as z from 'zod';
import { switchValue } from '../../shared/definition-fields';
import { defineOperation } from '../../shared/operation-definition';
import type { VacuumReport } from './vacuum';

export const vacuumOperation = defineOperation({
  id: 'vacuum',
  payload: z.strictObject({ dryRun: switchValue }),
  run: async (ctx, payload) => (await import('./vacuum')).vacuum(ctx, payload),
  metrics: (report: VacuumReport) =>
    report.dry_run ? {} : { counts: { PartitionsSealed: report.partitions_sealed, TablesAnalyzed: report.tables_analyzed } },
  cli: {
    flags: { 'dry-run': { field: 'dryRun', kind: 'switch' } },
    usage: {
      synopsis: 'vacuum [--dry-run]',
      summary: 'seal closed day partitions (VACUUM FREEZE ANALYZE), analyze partitioned parents and stale small tables',
      flags: [['--dry-run', 'list the steps it would run, run none']],
    },
  },
});
