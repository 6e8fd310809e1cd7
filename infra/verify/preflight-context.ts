import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOOTSTRAP_QUALIFIER_CONTEXT, DefaultStackSynthesizer } from 'aws-cdk-lib';
import { InputError } from '../../functions/shared/errors';
import { parseStackConfig, type StackConfig } from '../config';

const DEFAULT_TOOLKIT_STACK = 'CDKToolkit';

/** What the deploy would read: the stack's settings, and where its bootstrap lives. */
export interface DeploySettings {
  config: StackConfig;
  qualifier: string;
  toolkitStackName: string;
}

/** A JSON file's object, or {} when the file does not exist. */
function readJson(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new InputError(`${path} is not valid JSON (${(error as Error).message}): fix it, as cdk deploy would refuse it too`);
  }
}

/** `-c key=value` pairs as the CDK CLI passes them: strings, split at the first `=`. */
function parsePairs(pairs: string[]): Record<string, string> {
  const bad = pairs.filter((pair) => !/^[^=]+=/.test(pair));
  if (bad.length > 0) throw new InputError(bad.map((pair) => `-c ${pair}: must be key=value, as for cdk deploy`));
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

/**
 * The settings `npx cdk deploy` would synthesize from this folder: cdk.json's context, then
 * cdk.context.json, then the `-c` pairs (later wins, as in the CDK CLI), validated by the
 * stack's own parser: a bad key is the same InputError synth reports.
 */
export function readDeploySettings(projectDir: string, pairs: string[]): DeploySettings {
  const cdkJson = readJson(join(projectDir, 'cdk.json'));
  const context = {
    ...((cdkJson.context as Record<string, unknown> | undefined) ?? {}),
    ...readJson(join(projectDir, 'cdk.context.json')),
    ...parsePairs(pairs),
  };
  let config: StackConfig;
  try {
    config = parseStackConfig(context);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    throw new InputError(`bad CDK context, which cdk deploy would refuse too: ${error.problems.join('; ')}`);
  }
  return {
    config,
    qualifier: String(context[BOOTSTRAP_QUALIFIER_CONTEXT] ?? DefaultStackSynthesizer.DEFAULT_QUALIFIER),
    toolkitStackName: typeof cdkJson.toolkitStackName === 'string' ? cdkJson.toolkitStackName : DEFAULT_TOOLKIT_STACK,
  };
}
