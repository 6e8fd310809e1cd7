import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { PROJECT_ROOT } from '../bundling';
import { parseStackConfig } from '../config';
import { STACK_NAME } from '../create-app';
import { PerpsStatsDbStack } from '../stack';
import type { TemplateJson } from './stack-usage';

/**
 * The template `npx cdk synth` would write for this context (cdk.json's plus the given keys),
 * offline: the functions' code is a placeholder, since a price depends on none of it, and no
 * cdk-nag run (synth and the tests run it).
 */
export function synthesizeTemplate(context: Record<string, unknown> = {}): TemplateJson {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const scratch = mkdtempSync(join(tmpdir(), 'perps-cost-'));
  try {
    const code = join(scratch, 'code');
    mkdirSync(code);
    writeFileSync(join(code, 'index.mjs'), 'export const handler = async () => ({});\n');
    // No stack bundles its assets: the deploy-time invoker's code is no part of a price either.
    const app = new App({ context: { ...cdkJson.context, ...context, 'aws:cdk:bundling-stacks': [] }, outdir: join(scratch, 'out') });
    const config = parseStackConfig(app.node.getAllContext());
    const stack = new PerpsStatsDbStack(app, STACK_NAME, { config, assetDir: () => code });
    return app.synth().getStackByName(stack.stackName).template as TemplateJson;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
