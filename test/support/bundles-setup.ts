import { buildHandlers, buildRunner } from '../../infra/bundling';

/** Set once per vitest process: the infra and integration projects share one build. */
const BUILT = Symbol.for('perps-test-bundles-built');
type WithBuild = typeof globalThis & { [BUILT]?: Promise<unknown> };

/**
 * Vitest global setup of the projects that read the handler bundles (the handler tests import
 * them as shipped; the stack packages them) or spawn the prebuilt runner (spawnCli): builds them
 * once from the current sources.
 */
export default async function setup(): Promise<void> {
  const state = globalThis as WithBuild;
  state[BUILT] ??= Promise.all([buildHandlers(), buildRunner()]);
  await state[BUILT];
}
