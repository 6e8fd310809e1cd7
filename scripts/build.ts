import prettyBytes from 'pretty-bytes';
import { BUNDLE_DIR, buildHandlers, buildRunner, RUNNER_FILE } from '../infra/bundling';

const [sizes, runner] = await Promise.all([buildHandlers(), buildRunner()]);
for (const [operation, bytes] of Object.entries(sizes))
  console.log(`${operation.padEnd(10)} ${prettyBytes(bytes).padStart(9)}  ${BUNDLE_DIR}/${operation}/index.mjs`);
console.log(`${'runner'.padEnd(10)} ${prettyBytes(runner).padStart(9)}  ${RUNNER_FILE} (npm run local; its chunks beside it)`);
