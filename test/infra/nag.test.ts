import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { HANDLER_OPERATIONS } from '../../infra/bundling';
import { constructIdOf } from '../../infra/stack-contract';
import { acknowledgements, covers, EXISTING_CONTEXT, rawNagFindings, type Synthesized, synthesize } from '../support/infra';

const CONFIGURATIONS = { rds: {}, aurora: { database: 'aurora' }, existing: EXISTING_CONTEXT } as const;

// Synthesizing is the check: with NODE_ENV=test CDK throws on any unacknowledged cdk-nag
// finding or template-lint error, so each configuration is synthesized once, here.
const synthesized: Record<string, Synthesized> = Object.fromEntries(
  Object.entries(CONFIGURATIONS).map(([name, context]) => [name, synthesize(context)]),
);

afterAll(() => {
  for (const result of Object.values(synthesized)) result.cleanup();
});

describe.each(Object.keys(CONFIGURATIONS))('cdk-nag AwsSolutions and the template linter, %s database', (name) => {
  const { app, stack, outdir } = synthesized[name] as Synthesized;

  it('leaves no construct warning or error unacknowledged (the CLI prints them; the in-memory report does not)', () => {
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
  });

  it('synthesizes with no unacknowledged finding and no template-lint finding, not even a warning', () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations: unknown[] }[];
    };
    expect(report.pluginReports.flatMap((plugin) => plugin.violations)).toEqual([]);
  });

  it('acknowledges each finding at its resource or a close parent, and nothing that is not a finding', () => {
    const findings = rawNagFindings(app);
    const acks = acknowledgements(app);
    expect(findings.filter((finding) => !acks.some((ack) => covers(ack, finding)))).toEqual([]);
    expect(acks.filter((ack) => !findings.some((finding) => covers(ack, finding)))).toEqual([]);
    // Narrow: nothing is acknowledged for the whole stack or a whole concern.
    for (const ack of acks) expect(ack.path.split('/').length, ack.path).toBeGreaterThanOrEqual(3);
  });

  it('gives every acknowledgement a specific reason', () => {
    for (const ack of acknowledgements(app)) {
      expect(ack.reason.length, `${ack.id} at ${ack.path}`).toBeGreaterThanOrEqual(60);
    }
  });
});

it('acknowledges exactly these findings per configuration', () => {
  const summary = Object.fromEntries(
    Object.entries(synthesized).map(([name, { app }]) => [
      name,
      [
        ...new Set(
          acknowledgements(app).map(
            (ack) => `${ack.id.replace(/\[Policy::.*\/(\w+)\]$/, '[$1]')} @ ${ack.path.replace(/^PerpsStatsDb\//, '')}`,
          ),
        ),
      ].sort(),
    ]),
  );
  const shared = [
    ...HANDLER_OPERATIONS.flatMap((operation) => [
      `AwsSolutions-IAM4[AWSLambdaBasicExecutionRole] @ Functions/${constructIdOf(operation)}/ServiceRole`,
      `AwsSolutions-IAM4[AWSLambdaVPCAccessExecutionRole] @ Functions/${constructIdOf(operation)}/ServiceRole`,
    ]),
    'AwsSolutions-IAM4[AWSLambdaBasicExecutionRole] @ DeployMigrations/PartitionsInvoker/ServiceRole',
    // Object access under the archive prefix: the functions that read or write the archive.
    ...['Archive', 'Prune', 'Restore'].map(
      (id) => `AwsSolutions-IAM5[Resource::<ArchiveBucket49F1AC64.Arn>/perps-archive/*] @ Functions/${id}/ServiceRole`,
    ),
    'AwsSolutions-S1 @ Archive/Bucket',
    'AwsSolutions-SQS3 @ Functions/FailureQueue',
    'AwsSolutions-SQS3 @ Schedules/DeadLetterQueue',
  ];
  // A new database: deletion protection is turned on by the stack's last resource, an
  // AwsCustomResource, whose provider function is a singleton at the stack's root.
  const protectedLast = ['AwsSolutions-IAM4[AWSLambdaBasicExecutionRole] @ AWS679f53fac002430cb0da5b7982bd2287/ServiceRole'];
  expect(summary).toEqual({
    rds: [
      ...shared,
      ...protectedLast,
      'AwsSolutions-RDS10 @ Database/Instance',
      'AwsSolutions-RDS11 @ Database/Instance',
      'AwsSolutions-RDS3 @ Database/Instance',
    ].sort(),
    aurora: [...shared, ...protectedLast, 'AwsSolutions-RDS10 @ Database/Cluster', 'AwsSolutions-RDS6 @ Database/Cluster'].sort(),
    existing: [...shared].sort(),
  });
});
