import prettyBytes from 'pretty-bytes';
import { BUNDLE_DIR, buildHandlers } from '../infra/bundling';

const sizes = await buildHandlers();
for (const [operation, bytes] of Object.entries(sizes))
  console.log(`${operation.padEnd(10)} ${prettyBytes(bytes).padStart(9)}  ${BUNDLE_DIR}/${operation}/index.mjs`);
