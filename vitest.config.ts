import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

/** What every project shares. */
const common = {
  // First: each file's own temp directory (removed after it). Then the guards that fail a file
  // when a test password shows up in anything it printed, threw or returned, or when it printed
  // a warning it did not capture.
  setupFiles: ['test/support/scratch-setup.ts', 'test/support/secret-guard-setup.ts', 'test/support/quiet-setup.ts'],
  testTimeout: 60_000,
  hookTimeout: 120_000,
  pool: 'forks',
  // The handler tests import the built bundles: Node loads them as shipped, untransformed.
  server: { deps: { external: [/\/dist\//] } },
} satisfies TestProjectInlineConfiguration['test'];

/** Test files outside the integration folders that run a handler bundle on PostgreSQL. */
const NEEDS_POSTGRESQL = ['test/infra/deploy-invoker.test.ts'];

/**
 * Three projects, so each file gets only what it needs: `npm run test:unit` starts no server and
 * builds nothing. Every run gets its own temp directory first (the root's global setup).
 */
export default defineConfig({
  test: {
    globalSetup: ['test/support/scratch-global-setup.ts', 'test/support/tools-setup.ts'],
    // Most test time is spent waiting on PostgreSQL, timeouts and child processes: three files
    // at a time keep two cores busy (vitest's default on two cores is one). The infra project
    // sets its own.
    maxWorkers: 3,
    projects: [
      {
        test: { ...common, name: 'unit', include: ['test/unit/**/*.test.ts'], sequence: { groupOrder: 1 } },
      },
      {
        // The synthesized stack packages the handler bundles. Loading the CDK and its template
        // linter (a WebAssembly module) for the first synth of a process costs more than all the
        // synths after it: the infra files share one process, first, before the other projects.
        test: {
          ...common,
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          exclude: [...NEEDS_POSTGRESQL],
          globalSetup: ['test/support/bundles-setup.ts'],
          isolate: false,
          maxWorkers: 1,
          sequence: { groupOrder: 0 },
        },
      },
      {
        // A real PostgreSQL for the run; the handler tests import the bundles.
        test: {
          ...common,
          name: 'integration',
          include: [
            ...['test/integration/**/*.test.ts', 'test/handlers/**/*.test.ts', 'test/verify/**/*.test.ts', 'test/bench/**/*.test.ts'],
            ...NEEDS_POSTGRESQL,
          ],
          globalSetup: ['test/support/bundles-setup.ts', 'test/support/database-setup.ts'],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
