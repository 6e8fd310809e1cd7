import { afterAll, describe, expect, it } from 'vitest';
import { HANDLER_OPERATIONS } from '../../infra/bundling';
import { EXISTING_CONTEXT, type Synthesized, synthesize } from '../support/infra';
import { createdBefore, idsOfType } from './template-graph';

// What a first `cdk deploy` into a new account would hit (issue 11): one test per cause, each
// on the synthesized template. Each configuration is synthesized once for the file.
const rds = synthesize();
const aurora = synthesize({ database: 'aurora' });
const optedIn = synthesize({ reservedConcurrency: 'true', engineVersion: '17' });
const existing = synthesize(EXISTING_CONTEXT);
afterAll(() => {
  for (const synthesized of [rds, aurora, optedIn, existing]) synthesized.cleanup();
});

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };
const resourcesOf = ({ template }: Synthesized, type: string) => template.findResources(type) as Record<string, Resource>;
const logicalId = ({ stack }: Synthesized, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as never);
/** The one item of a list (failing the test when there are more or none). */
function only<T>(items: T[]): T {
  expect(items).toHaveLength(1);
  return items[0] as T;
}
const reservations = (synthesized: Synthesized) =>
  Object.fromEntries(
    HANDLER_OPERATIONS.map((operation) => [
      operation,
      resourcesOf(synthesized, 'AWS::Lambda::Function')[logicalId(synthesized, synthesized.stack.handlers.functions[operation])]?.Properties
        .ReservedConcurrentExecutions,
    ]),
  );

describe('1. reserved concurrency is opt-in', () => {
  it('reserves nothing by default: an account with a concurrency quota of 10 must keep all 10 unreserved', () => {
    for (const synthesized of [rds, aurora, existing]) {
      for (const fn of Object.values(resourcesOf(synthesized, 'AWS::Lambda::Function'))) {
        expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
      }
    }
  });

  it('reserves one run of migrate, partitions, prune, vacuum, archive and restore with -c reservedConcurrency=true', () => {
    expect(reservations(optedIn)).toEqual({ archive: 1, migrate: 1, partitions: 1, prune: 1, restore: 1, stats: undefined, vacuum: 1 });
  });
});

describe('2. CloudWatch may publish the alarms to the TLS-only topic', () => {
  it("keeps enforceSSL's Deny and allows cloudwatch.amazonaws.com to publish, for this account's alarms of this stack only", () => {
    const topic = { Ref: logicalId(rds, rds.stack.alarms.topic) };
    const policy = only(Object.values(resourcesOf(rds, 'AWS::SNS::TopicPolicy'))).Properties;
    expect(policy.Topics).toEqual([topic]);
    const alarmArns = idsOfType(rds.template, 'AWS::CloudWatch::Alarm').map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] }));
    // Runway, DEFAULT rows and data age over the tables, 7 per exchange, storage runway, stats missing, 2 queues, archive failures, backlog rows, jobs overdue, and one per function.
    expect(alarmArns).toHaveLength(3 + 7 + 1 + 1 + 2 + 1 + 1 + 1 + HANDLER_OPERATIONS.length);
    expect((policy.PolicyDocument as { Statement: unknown[] }).Statement).toEqual([
      {
        Sid: 'AllowPublishThroughSSLOnly',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sns:Publish',
        Resource: topic,
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
      {
        Sid: 'AlarmsPublish',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: topic,
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          // Every alarm of the stack, in any order, and nothing else.
          ArnLike: { 'aws:SourceArn': expect.toSatisfy((arns: unknown[]) => arns.length === alarmArns.length) },
        },
      },
    ]);
    const allow = JSON.stringify((policy.PolicyDocument as { Statement: unknown[] }).Statement[1]);
    for (const arn of alarmArns) expect(allow).toContain(JSON.stringify(arn));
  });
});

describe('3. nothing runs before the migrations, and stats-missing stays quiet on a first deploy', () => {
  it.each([
    ['rds', rds],
    ['existing', existing],
  ] as const)('creates every schedule only after both deploy triggers have run (%s)', (_name, synthesized) => {
    const triggers = idsOfType(synthesized.template, 'Custom::Trigger');
    expect(triggers).toHaveLength(2);
    const schedules = idsOfType(synthesized.template, 'AWS::Scheduler::Schedule');
    expect(schedules.length).toBeGreaterThanOrEqual(2);
    for (const schedule of schedules) expect([...createdBefore(synthesized.template, schedule)]).toEqual(expect.arrayContaining(triggers));
  });

  it('notifies a missing stats metric as INSUFFICIENT_DATA, where a new alarm starts, instead of letting missing data breach', () => {
    const topic = { Ref: logicalId(rds, rds.stack.alarms.topic) };
    const alarms = Object.values(resourcesOf(rds, 'AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties);
    expect(alarms.filter((alarm) => alarm.TreatMissingData === 'breaching')).toEqual([]);
    expect(alarms.filter((alarm) => alarm.MetricName === 'DatabaseSizeBytes')).toEqual([
      expect.objectContaining({
        Statistic: 'SampleCount',
        TreatMissingData: 'missing',
        InsufficientDataActions: [topic],
        OKActions: [topic],
      }),
    ]);
  });
});

describe('4. each rotation schedule (the master secret and the two login secrets), whose first test logs in, waits for the database', () => {
  /** What every schedule is created after: the master's, and the logins' (after the migrate trigger, itself after the database). */
  const rotationDependencies = (synthesized: Synthesized) => {
    const rotations = idsOfType(synthesized.template, 'AWS::SecretsManager::RotationSchedule');
    expect(rotations).toHaveLength(3);
    const before = rotations.map((rotation) => new Set(createdBefore(synthesized.template, rotation)));
    return [...(before[0] ?? [])].filter((id) => before.every((set) => set.has(id)));
  };
  /** The security-group rules that let the rotation function out to, and into, the database and the endpoint. */
  const rotationRules = (synthesized: Synthesized) => {
    const rotationGroup = Object.entries(resourcesOf(synthesized, 'AWS::EC2::SecurityGroup')).find(
      ([, group]) => group.Properties.GroupDescription === 'perps-stats-db secret rotation function',
    )?.[0];
    const rules = {
      ...resourcesOf(synthesized, 'AWS::EC2::SecurityGroupIngress'),
      ...resourcesOf(synthesized, 'AWS::EC2::SecurityGroupEgress'),
    };
    return Object.entries(rules)
      .filter(([, rule]) => JSON.stringify(rule.Properties).includes(`"${rotationGroup}"`))
      .map(([id]) => id);
  };

  /** The Secrets Manager endpoint (the S3 gateway endpoint of the archive is no concern of the rotation). */
  const secretsEndpoint = (synthesized: Synthesized) =>
    Object.entries(resourcesOf(synthesized, 'AWS::EC2::VPCEndpoint'))
      .filter(([, endpoint]) => endpoint.Properties.VpcEndpointType === 'Interface')
      .map(([id]) => id);

  it('rds: after the instance, the rules between the rotation function, the database and the endpoint, and the endpoint', () => {
    const rules = rotationRules(rds);
    expect(rules).toHaveLength(4);
    expect(rotationDependencies(rds)).toEqual(
      expect.arrayContaining([...idsOfType(rds.template, 'AWS::RDS::DBInstance'), ...secretsEndpoint(rds), ...rules]),
    );
  });

  it('aurora: after the cluster and its writer instance too', () => {
    const servers = [...idsOfType(aurora.template, 'AWS::RDS::DBCluster'), ...idsOfType(aurora.template, 'AWS::RDS::DBInstance')];
    expect(servers).toHaveLength(2);
    expect(rotationDependencies(aurora)).toEqual(
      expect.arrayContaining([...servers, ...secretsEndpoint(aurora), ...rotationRules(aurora)]),
    );
  });
});

describe('5. every log group expires', () => {
  it.each([
    ['rds', rds],
    ['aurora', aurora],
    ['existing', existing],
  ] as const)("gives every function, CDK's own providers included, a log group kept 30 days (%s)", (_name, synthesized) => {
    const logGroups = resourcesOf(synthesized, 'AWS::Logs::LogGroup');
    const functions = Object.entries(resourcesOf(synthesized, 'AWS::Lambda::Function'));
    expect(functions.map(([id]) => id)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^AWSCDKTriggerCustomResourceProvider/), expect.stringMatching(/Invoker/)]),
    );
    for (const [id, fn] of functions) {
      const logGroup = (fn.Properties.LoggingConfig as { LogGroup?: { Ref?: string } } | undefined)?.LogGroup?.Ref;
      expect(logGroups[logGroup ?? '']?.Properties.RetentionInDays, id).toBe(30);
    }
    for (const [id, group] of Object.entries(logGroups)) expect(group.Properties.RetentionInDays, id).toBe(30);
  });

  it.each([
    ['rds', rds],
    ['aurora', aurora],
  ] as const)('names each hosted rotation function, and creates its log group, kept 30 days, before it (%s)', (_name, synthesized) => {
    const rotations = Object.entries(resourcesOf(synthesized, 'AWS::SecretsManager::RotationSchedule'));
    const names = rotations.map(
      ([, rotation]) => (rotation.Properties.HostedRotationLambda as { RotationLambdaName?: string }).RotationLambdaName,
    );
    expect(names.sort()).toEqual(['PerpsStatsDb-maintenance-rotation', 'PerpsStatsDb-secret-rotation', 'PerpsStatsDb-stats-rotation']);
    for (const [id, rotation] of rotations) {
      const functionName = (rotation.Properties.HostedRotationLambda as { RotationLambdaName?: string }).RotationLambdaName;
      const logGroup = only(
        Object.entries(resourcesOf(synthesized, 'AWS::Logs::LogGroup')).filter(
          ([, group]) => group.Properties.LogGroupName === `/aws/lambda/${functionName}`,
        ),
      );
      expect(logGroup[1].Properties.RetentionInDays).toBe(30);
      expect([...createdBefore(synthesized.template, id)]).toContain(logGroup[0]);
    }
  });
});

describe('6. the engine version is one AWS offers', () => {
  it("defaults Aurora to 18.4, the newest Aurora PostgreSQL 18 in cfn-lint's August 2026 list (18, 18.3, 18.4)", () => {
    aurora.template.hasResourceProperties('AWS::RDS::DBCluster', { Engine: 'aurora-postgresql', EngineVersion: '18.4' });
    aurora.template.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', { Family: 'aurora-postgresql18' });
  });

  it('takes -c engineVersion for RDS, with the parameter group family of its major', () => {
    rds.template.hasResourceProperties('AWS::RDS::DBInstance', { Engine: 'postgres', EngineVersion: '18' });
    optedIn.template.hasResourceProperties('AWS::RDS::DBInstance', { Engine: 'postgres', EngineVersion: '17' });
    optedIn.template.hasResourceProperties('AWS::RDS::DBParameterGroup', { Family: 'postgres17' });
  });
});

describe('7. a deploy during the nightly runs does not fail on a held lock or a throttle', () => {
  const invoker = rds.stack.deployMigrations.partitionsInvoker;
  const invokerProps = () => resourcesOf(rds, 'AWS::Lambda::Function')[logicalId(rds, invoker)]?.Properties ?? {};
  const partitionsVersion = { Ref: expect.stringMatching(/^FunctionsPartitionsCurrentVersion/) };

  it('runs partitions through the invoker, asking it to skip a busy lock (and tolerating LockBusyError), waiting as long as partitions may run', () => {
    const trigger = resourcesOf(rds, 'Custom::Trigger')[logicalId(rds, rds.stack.deployMigrations.partitions.node.findChild('Default'))];
    expect(trigger?.Properties).toMatchObject({
      HandlerArn: { Ref: expect.stringMatching(/^DeployMigrationsPartitionsInvokerCurrentVersion/) },
      InvocationType: 'RequestResponse',
      Timeout: '660000',
    });
    expect(invokerProps()).toMatchObject({
      Runtime: 'nodejs24.x',
      Timeout: 660,
      Environment: {
        Variables: { TARGET_FUNCTION: partitionsVersion, TARGET_PAYLOAD: '{"whenLocked":"skip"}', TOLERATED_ERRORS: 'LockBusyError' },
      },
    });
    expect(invokerProps().VpcConfig).toBeUndefined();
  });

  it('lets the invoker invoke that version of partitions, read its own stack, and nothing else', () => {
    const role = (invokerProps().Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    const statements = Object.values(resourcesOf(rds, 'AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: role }]))
      .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: unknown[] }).Statement);
    // And read its own stack's status, to tell a rollback from a deploy (issue 23).
    expect(statements).toEqual([
      { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: partitionsVersion },
      { Action: 'cloudformation:DescribeStacks', Effect: 'Allow', Resource: { Ref: 'AWS::StackId' } },
    ]);
  });

  it('still fails the deploy on any migrate failure: migrate runs without the invoker', () => {
    const trigger = resourcesOf(rds, 'Custom::Trigger')[logicalId(rds, rds.stack.deployMigrations.migrate.node.findChild('Default'))];
    expect(trigger?.Properties.HandlerArn).toEqual({ Ref: expect.stringMatching(/^FunctionsMigrateCurrentVersion/) });
  });
});
