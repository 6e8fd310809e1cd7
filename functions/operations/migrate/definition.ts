import * as z from 'zod';
import { DDL_ENVIRONMENT } from '../../shared/definition-fields';
import { defineOperation } from '../../shared/operation-definition';
import type { MigrateReport } from './migrate';

export const migrateOperation = defineOperation({
  id: 'migrate',
  payload: z.strictObject({}),
  run: async (ctx) => (await import('./migrate')).migrate(ctx),
  metrics: (report: MigrateReport) => ({ counts: { MigrationsApplied: report.applied } }),
  cli: {
    usage: {
      summary: 'apply pending migrations and the exchange seed',
      examples: ['', '--database-url postgres://perps_admin@db.example.com/perps'],
      environment: DDL_ENVIRONMENT,
    },
  },
});
