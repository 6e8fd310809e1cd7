import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { EXISTING_CONTEXT, type Synthesized, synthesize } from '../support/infra';
import { createdBefore, idsOfType } from './template-graph';

// Issue 23, "Deploys that fail must leave nothing stuck": one describe per point, each on the
// synthesized template. Each configuration is synthesized once for the file.
const rds = synthesize();
const aurora = synthesize({ database: 'aurora' });
const unprotected = synthesize({ deletionProtection: 'false' });
const existing = synthesize(EXISTING_CONTEXT);
afterAll(() => {
  for (const synthesized of [rds, aurora, unprotected, existing]) synthesized.cleanup();
});

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[]; DeletionPolicy?: string };
const resourcesOf = ({ template }: Synthesized, type: string) => template.findResources(type) as Record<string, Resource>;
const allResources = ({ template }: Synthesized) => template.toJSON().Resources as Record<string, Resource>;
const logicalId = ({ stack }: Synthesized, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as never);
function only<T>(items: T[]): T {
  expect(items).toHaveLength(1);
  return items[0] as T;
}
const protectionOf = (synthesized: Synthesized) => only(Object.entries(resourcesOf(synthesized, 'Custom::DatabaseDeletionProtection')));
/** The SDK call an AwsCustomResource makes on Create, Update or Delete (a JSON string, with tokens as Fn::Join). */
const callOf = (resource: Resource, event: 'Create' | 'Update' | 'Delete') => resource.Properties[event];

describe('1. a failed first deploy can roll back: the database is protected last', () => {
  it('creates the RDS instance without DeletionProtection in the template, snapshotted on delete', () => {
    const instance = only(Object.values(resourcesOf(rds, 'AWS::RDS::DBInstance')));
    // Absent, not false: CloudFormation's RDS handler sends the template's value with every
    // ModifyDBInstance, so a false would turn protection off on the next update of the instance.
    expect(instance.Properties).not.toHaveProperty('DeletionProtection');
    expect(instance.DeletionPolicy).toBe('Snapshot');
  });

  it('turns protection on with rds:ModifyDBInstance on Create and Update, and never calls anything on Delete', () => {
    const instanceId = only(idsOfType(rds.template, 'AWS::RDS::DBInstance'));
    const [, protection] = protectionOf(rds);
    for (const event of ['Create', 'Update'] as const) {
      const call = JSON.stringify(callOf(protection, event));
      expect(call).toContain('\\"action\\":\\"ModifyDBInstance\\"');
      expect(call).toContain('\\"DeletionProtection\\":true');
      expect(call).toContain(`{"Ref":"${instanceId}"}`);
    }
    expect(callOf(protection, 'Delete')).toBeUndefined();
  });

  it('is created after every other resource of the stack: both triggers, the rotation schedule, the schedules, the alarms', () => {
    const [id] = protectionOf(rds);
    const before = createdBefore(rds.template, id);
    const others = Object.keys(allResources(rds)).filter((other) => other !== id && !before.has(other));
    expect(others).toEqual([]);
    const triggers = idsOfType(rds.template, 'Custom::Trigger');
    expect(triggers).toHaveLength(2);
    expect([...before]).toEqual(
      expect.arrayContaining([
        ...triggers,
        ...idsOfType(rds.template, 'AWS::SecretsManager::RotationSchedule'),
        ...idsOfType(rds.template, 'AWS::Scheduler::Schedule'),
      ]),
    );
  });

  it('may modify this instance and nothing else', () => {
    const instanceId = only(idsOfType(rds.template, 'AWS::RDS::DBInstance'));
    const statements = Object.values(resourcesOf(rds, 'AWS::IAM::Policy'))
      .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement)
      .filter((statement) => JSON.stringify(statement.Action).includes('rds:'));
    expect(statements).toEqual([
      {
        Action: 'rds:ModifyDBInstance',
        Effect: 'Allow',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':rds:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':db:',
              { Ref: instanceId },
            ],
          ],
        },
      },
    ]);
  });

  it('aurora: the cluster is created unprotected and protected last with rds:ModifyDBCluster on that cluster only', () => {
    const cluster = only(Object.entries(resourcesOf(aurora, 'AWS::RDS::DBCluster')));
    expect(cluster[1].Properties).not.toHaveProperty('DeletionProtection');
    expect(cluster[1].DeletionPolicy).toBe('Snapshot');
    const [id, protection] = protectionOf(aurora);
    const call = JSON.stringify(callOf(protection, 'Create'));
    expect(call).toContain('\\"action\\":\\"ModifyDBCluster\\"');
    expect(call).toContain('\\"DeletionProtection\\":true');
    expect(call).toContain(`{"Ref":"${cluster[0]}"}`);
    expect(callOf(protection, 'Delete')).toBeUndefined();
    const before = createdBefore(aurora.template, id);
    expect(Object.keys(allResources(aurora)).filter((other) => other !== id && !before.has(other))).toEqual([]);
    aurora.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [{ Action: 'rds:ModifyDBCluster', Effect: 'Allow', Resource: Match.objectLike({ 'Fn::Join': Match.anyValue() }) }],
      },
    });
  });

  it('-c deletionProtection=false writes DeletionProtection: false and adds no protecting resource; an existing database gets none', () => {
    unprotected.template.hasResourceProperties('AWS::RDS::DBInstance', { DeletionProtection: false });
    unprotected.template.resourceCountIs('Custom::DatabaseDeletionProtection', 0);
    existing.template.resourceCountIs('Custom::DatabaseDeletionProtection', 0);
  });
});

describe('2. a rollback runs the old function versions and must not fail', () => {
  it('gives the triggers new logical ids, so the rollback of the deploy that brings them deletes them instead of running the old ones', () => {
    // The ids of the triggers before issue 23: an Update of these resources in a rollback would
    // invoke the migrate version of that time, which fails on a database ahead of it.
    const triggers = idsOfType(rds.template, 'Custom::Trigger');
    expect(triggers).toEqual([
      expect.stringMatching(/^DeployMigrationsRunMigrate/),
      expect.stringMatching(/^DeployMigrationsRunPartitions/),
    ]);
    for (const old of ['DeployMigrationsMigrate', 'DeployMigrationsPartitions']) {
      expect(triggers.filter((id) => id.replace(/[0-9A-F]{8}$/, '') === old)).toEqual([]);
    }
  });

  it('tells the partitions invoker its stack, which it may describe (to know a rollback), and nothing more', () => {
    const invokerId = logicalId(rds, rds.stack.deployMigrations.partitionsInvoker);
    const invoker = allResources(rds)[invokerId] as Resource;
    expect((invoker.Properties.Environment as { Variables: Record<string, unknown> }).Variables.STACK_ID).toEqual({ Ref: 'AWS::StackId' });
    const role = (invoker.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    const statements = Object.values(resourcesOf(rds, 'AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: role }]))
      .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: unknown[] }).Statement);
    expect(statements).toContainEqual({ Action: 'cloudformation:DescribeStacks', Effect: 'Allow', Resource: { Ref: 'AWS::StackId' } });
  });
});

describe('3. a throttled partitions at deploy keeps its failure path', () => {
  it('gives the version the invoker names the same async-invoke config as $LATEST: 2 retries, 6 h, failures to the queue', () => {
    const version = only(
      Object.entries(resourcesOf(rds, 'AWS::Lambda::Version')).filter(([id]) => id.startsWith('FunctionsPartitionsCurrentVersion')),
    );
    const queue = { 'Fn::GetAtt': [logicalId(rds, rds.stack.handlers.failureQueue), 'Arn'] };
    const configs = Object.values(resourcesOf(rds, 'AWS::Lambda::EventInvokeConfig')).map((config) => config.Properties);
    expect(configs).toContainEqual({
      FunctionName: { Ref: logicalId(rds, rds.stack.handlers.functions.partitions) },
      Qualifier: { 'Fn::GetAtt': [version[0], 'Version'] },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21600,
      DestinationConfig: { OnFailure: { Destination: queue } },
    });
    // The very version the invoker invokes.
    const invoker = allResources(rds)[logicalId(rds, rds.stack.deployMigrations.partitionsInvoker)] as Resource;
    expect((invoker.Properties.Environment as { Variables: Record<string, unknown> }).Variables.TARGET_FUNCTION).toEqual({
      Ref: version[0],
    });
  });
});

describe('4. the migrate trigger outwaits migrate', () => {
  it('waits a minute longer than the function may run, as the partitions trigger does', () => {
    const trigger = allResources(rds)[logicalId(rds, rds.stack.deployMigrations.migrate.node.findChild('Default') as never)];
    const migrate = allResources(rds)[logicalId(rds, rds.stack.handlers.functions.migrate)] as Resource;
    expect(migrate.Properties.Timeout).toBe(600);
    expect(trigger?.Properties.Timeout).toBe('660000');
  });
});
