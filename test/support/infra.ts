import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { PROJECT_ROOT } from '../../infra/bundling';
import { createApp } from '../../infra/create-app';
import type { PerpsStatsDbStack } from '../../infra/stack';

/** Context of the `existing` configuration: ids in the formats AWS and the template linter expect. */
export const EXISTING_CONTEXT = {
  database: 'existing',
  existingSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:perps-db-AbCdEf',
  existingSecretKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555',
  existingVpcId: 'vpc-0123456789abcdef0',
  existingSubnetIds: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
  existingAvailabilityZones: 'eu-west-1a,eu-west-1b',
  existingSecurityGroupId: 'sg-0123456789abcdef0',
} as const;

/** The context cdk.json gives every synth (the template linter's errors fail it). */
const CDK_JSON_CONTEXT = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

export interface Synthesized {
  app: App;
  stack: PerpsStatsDbStack;
  template: Template;
  outdir: string;
  cleanup(): void;
}

/**
 * Synthesizes the app as `npx cdk synth` does (cdk.json context plus the given one) into a
 * temporary directory. Vitest sets NODE_ENV=test, so CDK runs its validation plugins in-memory:
 * an unacknowledged cdk-nag finding or a template-lint error throws here with the report.
 */
export function synthesize(context: Record<string, unknown> = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'perps-cdk-'));
  // The assets are bundled while the stack is built.
  const { app, stack } = withoutBundlingProgress(() => createApp({ context: { ...CDK_JSON_CONTEXT, ...context }, outdir }));
  const assembly = app.synth();
  const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template);
  return { app, stack, template, outdir, cleanup: () => rmSync(outdir, { recursive: true, force: true }) };
}

/**
 * Runs `work` without the line the CDK prints to stderr for each asset it bundles ("Bundling
 * asset <path>..."): progress the CLI shows, noise in a test run. Anything else passes through.
 */
function withoutBundlingProgress<T>(work: () => T): T {
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
    /^Bundling asset \S+\.\.\.\n$/.test(String(chunk)) ||
    (write as (...args: unknown[]) => boolean).call(process.stderr, chunk, ...rest)) as typeof process.stderr.write;
  try {
    return work();
  } finally {
    process.stderr.write = write;
  }
}

/** A cdk-nag finding: rule id (with its `[finding]` part) and the construct path of the resource. */
export interface Finding {
  id: string;
  path: string;
}

/**
 * Every AwsSolutions finding, acknowledged or not. NagPack checks acknowledgements itself (in a
 * private method), so this run switches that check off to see what the acknowledgements cover.
 */
export function rawNagFindings(app: App): Finding[] {
  const pack = new AwsSolutionsChecks();
  (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
  return pack
    .validateScope(app)
    .violations.flatMap((violation) =>
      violation.violatingResources.map((resource) => ({ id: violation.ruleName, path: resource.constructPath ?? '' })),
    );
}

/** An acknowledgement: where it was made, the rule id and the reason. */
export interface Acknowledgement extends Finding {
  reason: string;
}

/**
 * Every cdk-nag acknowledgement made with Validations.of(construct).acknowledge(...) in the
 * tree. aws-cdk-lib acknowledges some template-lint rules on its own constructs (the flow log's
 * F3002/F3003, W3010 on a stack of an unknown region): those are its own, not ours, and skipped.
 */
export function acknowledgements(root: IConstruct): Acknowledgement[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          // CDK stores acknowledged plugin rules as `<Plugin>::<id>` (an annotation id has its own prefix).
          id: id.replace(/^[^:]+::/, ''),
          path: construct.node.path,
          reason,
        })),
      )
      .filter((ack) => ack.id.startsWith('AwsSolutions-')),
  );
}

/** Whether an acknowledgement made at `ack.path` covers a finding on `finding.path` (itself or a descendant). */
export function covers(ack: Finding, finding: Finding): boolean {
  return ack.id === finding.id && (finding.path === ack.path || finding.path.startsWith(`${ack.path}/`));
}
