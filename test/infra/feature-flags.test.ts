import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling';
import { synthesize } from '../support/infra';

const require = createRequire(import.meta.url);
/** What `cdk init` writes into a new project's cdk.json for this aws-cdk-lib version. */
const RECOMMENDED = JSON.parse(readFileSync(require.resolve('aws-cdk-lib/recommended-feature-flags.json'), 'utf8')) as Record<
  string,
  unknown
>;
const CDK_JSON = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };

const { template, cleanup } = synthesize();
afterAll(cleanup);

describe('CDK feature flags', () => {
  // An aws-cdk-lib upgrade that recommends a new flag fails here: set it in cdk.json after
  // reviewing the template diff it causes (docs/deploy.md lists the last review).
  it('sets every flag aws-cdk-lib recommends to its recommended value, as `cdk init` would, so synth\'s "feature flags are not configured" is gone', () => {
    const flags = Object.fromEntries(Object.keys(RECOMMENDED).map((flag) => [flag, CDK_JSON.context[flag]]));
    expect(flags).toEqual(RECOMMENDED);
  });

  it('gets what the flags change in this template: a locked-down default security group and sorted policy actions', () => {
    template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
    const actions = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (policy) => (policy.Properties.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement,
    );
    for (const { Action } of actions) if (Array.isArray(Action)) expect(Action).toEqual([...Action].sort());
  });
});
