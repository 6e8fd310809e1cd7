import { InputError } from '../functions/shared/errors';
import { buildHandlers } from './bundling';
import { describeConfigError } from './config';
import { createApp } from './create-app';

// Build the handler bundles first: the functions ship exactly what `npm run build` and the
// handler tests produce, from the current sources.
await buildHandlers();
try {
  createApp().app.synth();
} catch (error) {
  if (!(error instanceof InputError)) throw error;
  console.error(describeConfigError(error));
  process.exit(2);
}
