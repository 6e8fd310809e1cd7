import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { HandlerOperation } from './bundling';
import { parseStackConfig } from './config';
import { PerpsStatsDbStack } from './stack';

export const STACK_NAME = 'PerpsStatsDb';

export interface CreateAppOptions {
  /** Context as `-c` or cdk.json gives it (tests pass it here; the CLI passes it in the environment). */
  readonly context?: Record<string, unknown>;
  readonly outdir?: string;
  readonly assetDir?: (operation: HandlerOperation) => string;
}

/**
 * The app `npx cdk synth` runs and the tests synthesize: context validated first (an InputError
 * listing every bad key, before any construct exists), then the one stack, with cdk-nag's
 * AwsSolutions pack as a validation plugin: an unacknowledged finding fails the synth.
 */
export function createApp(options: CreateAppOptions = {}): { app: App; stack: PerpsStatsDbStack } {
  const props: AppProps = {
    ...(options.context ? { context: options.context } : {}),
    ...(options.outdir ? { outdir: options.outdir } : {}),
  };
  const app = new App(props);
  const config = parseStackConfig(app.node.getAllContext());
  const stack = new PerpsStatsDbStack(app, STACK_NAME, {
    config,
    assetDir: options.assetDir,
    description: `perps-stats-db: PostgreSQL store maintenance (${config.database.kind} database)`,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
