import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Every test file: fail it when a test password shows up in anything it printed, threw or returned.
    setupFiles: ['test/support/secret-guard-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The handler tests import the built bundles: Node loads them as shipped, untransformed.
    server: { deps: { external: [/\/dist\//] } },
  },
});
