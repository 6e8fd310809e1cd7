import * as z from 'zod';
import { NIGHTLY, NIGHTLY_FUNCTION, switchValue } from '../../shared/definition-fields';
import { defineOperation } from '../../shared/operation-definition';
import type { VacuumReport } from './vacuum';

export const vacuumOperation = defineOperation({
  id: 'vacuum',
  payload: z.strictObject({ dryRun: switchValue }),
  run: async (ctx, payload) => (await import('./vacuum')).vacuum(ctx, payload),
  metrics: (report: VacuumReport) =>
    report.dry_run ? {} : { counts: { PartitionsSealed: report.partitions_sealed, TablesAnalyzed: report.tables_analyzed } },
  // Daily at 03:00, after prune (it does not seal what prune is about to drop): one VACUUM per
  // closed partition not yet sealed; the deadline stops it between two steps and the next run
  // (a retry, or tomorrow's) carries on from there.
  deploy: {
    ...NIGHTLY_FUNCTION,
    schedule: () => ({ cron: { minute: '0', hour: '3' }, input: {}, ...NIGHTLY }),
  },
  cli: {
    flags: { 'dry-run': { field: 'dryRun', kind: 'switch' } },
    usage: {
      synopsis: 'vacuum [--dry-run]',
      summary: 'seal closed day partitions (VACUUM FREEZE ANALYZE), analyze partitioned parents and stale small tables',
      flags: [['--dry-run', 'list the steps it would run, run none']],
    },
  },
});
