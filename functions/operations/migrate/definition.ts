import * as z from 'zod';
import { DDL_ENVIRONMENT } from '../../shared/definition-fields';
import { defineOperation } from '../../shared/operation-definition';
import type { MigrateReport } from './migrate';

export const migrateOperation = defineOperation({
  id: 'migrate',
  payload: z.strictObject({}),
  run: async (ctx) => (await import('./migrate')).migrate(ctx),
  metrics: (report: MigrateReport) => ({ counts: { MigrationsApplied: report.applied } }),
  // Runs on every deploy (synchronously, through the trigger) and by hand: a failure is a
  // migration error or a lock wait already spent, which retrying unattended will not fix. It
  // waits up to 5 minutes for the maintenance lock before it starts applying files.
  deploy: { timeoutMinutes: 10, reservedConcurrency: 1, retryAttempts: 0, maxEventAgeMinutes: 60, login: 'master' },
  cli: {
    usage: {
      summary: 'apply pending migrations and the exchange seed',
      examples: ['', '--database-url postgres://perps_admin@db.example.com/perps'],
      environment: DDL_ENVIRONMENT,
    },
  },
});
