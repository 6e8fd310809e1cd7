/**
 * Builds the local runner into dist/cli/ (see buildRunner). scripts/local.mjs runs this when a
 * source is newer than the build; `npm run build` builds it too.
 */
import { buildRunner } from '../infra/bundling';

await buildRunner();
