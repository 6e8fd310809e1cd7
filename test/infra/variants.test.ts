import { afterAll, describe, expect, it } from 'vitest';
import { HANDLER_OPERATIONS } from '../../infra/bundling';
import { EXISTING_CONTEXT, synthesize } from '../support/infra';

type Properties = Record<string, unknown>;

// Aurora with the options a team changes most, and an existing database with retention off:
// each synthesized once for the file.
const aurora = synthesize({
  database: 'aurora',
  engineVersion: '17.6',
  auroraMinCapacity: '0',
  auroraMaxCapacity: '8',
  deletionProtection: 'false',
  alarmEmail: 'oncall@example.com',
  dataAgeAlarmSeconds: 'off',
  metricsNamespace: 'PerpsStatsStaging',
  daysAhead: '14',
  deleteRowsOlderThanDays: '90',
});
const existing = synthesize({ ...EXISTING_CONTEXT, dropPartitionsOlderThanDays: 'off' });
afterAll(() => {
  aurora.cleanup();
  existing.cleanup();
});

const propertiesOf = (template: typeof aurora.template, type: string) =>
  Object.values(template.findResources(type) as Record<string, { Properties: Properties }>).map((resource) => resource.Properties);

describe('aurora database', () => {
  it('is an Aurora PostgreSQL Serverless v2 cluster of the given version, encrypted, TLS forced in the cluster parameter group', () => {
    aurora.template.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-postgresql',
      EngineVersion: '17.6',
      StorageEncrypted: true,
      DeletionProtection: false,
      BackupRetentionPeriod: 7,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 8 },
    });
    aurora.template.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', {
      Family: 'aurora-postgresql17',
      Parameters: { 'rds.force_ssl': '1' },
    });
    aurora.template.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless', Engine: 'aurora-postgresql' });
    // The master secret's, and the maintenance and stats logins' (test/infra/logins.test.ts).
    aurora.template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 3);
    const attached = aurora.template.findResources('AWS::SecretsManager::SecretTargetAttachment', {
      Properties: { TargetType: 'AWS::RDS::DBCluster' },
    });
    expect(Object.keys(attached)).toHaveLength(3);
  });

  it('passes the context options on: namespace, days ahead, row retention, e-mail, no data-age alarm', () => {
    const variables = propertiesOf(aurora.template, 'AWS::Lambda::Function')
      .map((fn) => (fn.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables)
      .filter((env) => env?.DB_SECRET_ARN);
    expect(variables.every((env) => env?.METRICS_NAMESPACE === 'PerpsStatsStaging')).toBe(true);
    expect(variables).toContainEqual(expect.objectContaining({ PARTITIONS_DAYS_AHEAD: '14' }));
    expect(variables).toContainEqual(
      expect.objectContaining({ PRUNE_OLDER_THAN_DAYS: '90', PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS: '180' }),
    );
    const inputs = propertiesOf(aurora.template, 'AWS::Scheduler::Schedule').map((schedule) =>
      JSON.parse((schedule.Target as { Input: string }).Input),
    );
    expect(inputs).toEqual(expect.arrayContaining([{ daysAhead: 14 }, { olderThanDays: 90, dropPartitionsOlderThanDays: 180 }, {}]));
    aurora.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    const alarms = propertiesOf(aurora.template, 'AWS::CloudWatch::Alarm');
    expect(alarms.filter((alarm) => alarm.MetricName === 'DataAgeSeconds')).toEqual([]);
    expect(alarms.filter((alarm) => alarm.MetricName === 'ExchangeDataAgeSeconds')).toEqual([]);
    // Nothing reads the data-age metrics then: stats does not publish them, the dashboard does not graph them.
    const stats = variables.filter((env) => env?.DB_STATEMENT_TIMEOUT_MS);
    expect(stats).toEqual([expect.objectContaining({ STATS_DATA_AGE_METRICS: 'false' })]);
    const dashboard = JSON.stringify(propertiesOf(aurora.template, 'AWS::CloudWatch::Dashboard'));
    expect(dashboard).not.toContain('DataAgeSeconds');
    expect(dashboard).toContain('DatabaseSizeBytes');
    // Aurora has no fixed storage: no limit, so no runway and no runway alarm.
    expect(alarms.filter((alarm) => alarm.MetricName === 'StorageRunwayDays')).toEqual([]);
    expect(JSON.stringify(propertiesOf(aurora.template, 'AWS::Lambda::Function'))).not.toContain('DB_STORAGE_LIMIT_BYTES');
    for (const alarm of alarms.filter((alarm) => alarm.Namespace !== 'AWS/Lambda' && alarm.Namespace !== 'AWS/SQS')) {
      expect(alarm.Namespace).toBe('PerpsStatsStaging');
    }
  });
});

describe('existing database', () => {
  it('creates no database, VPC, endpoint or rotation; imports them by id', () => {
    for (const type of [
      'AWS::RDS::DBInstance',
      'AWS::RDS::DBCluster',
      'AWS::EC2::VPC',
      'AWS::EC2::VPCEndpoint',
      'AWS::SecretsManager::RotationSchedule',
    ]) {
      existing.template.resourceCountIs(type, 0);
    }
    for (const fn of propertiesOf(existing.template, 'AWS::Lambda::Function').filter((fn) => fn.VpcConfig)) {
      expect(fn.VpcConfig).toEqual({
        SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
        SecurityGroupIds: [expect.objectContaining({ 'Fn::GetAtt': [expect.stringMatching(/^FunctionsSecurityGroup/), 'GroupId'] })],
      });
      expect((fn.Environment as { Variables: Properties }).Variables.DB_SECRET_ARN).toBe(EXISTING_CONTEXT.existingSecretArn);
    }
  });

  it("adds one ingress rule to the database's security group, from the functions, on 5432", () => {
    expect(propertiesOf(existing.template, 'AWS::EC2::SecurityGroupIngress')).toEqual([
      expect.objectContaining({ GroupId: EXISTING_CONTEXT.existingSecurityGroupId, IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432 }),
    ]);
  });

  it('grants GetSecretValue on that secret ARN and Decrypt on its key only through Secrets Manager', () => {
    const statements = propertiesOf(existing.template, 'AWS::IAM::Policy').flatMap(
      (policy) => (policy.PolicyDocument as { Statement: Properties[] }).Statement,
    );
    const secret = statements.filter((statement) => statement.Action === 'secretsmanager:GetSecretValue');
    const kms = statements.filter((statement) => statement.Action === 'kms:Decrypt');
    expect(secret).toHaveLength(HANDLER_OPERATIONS.length);
    expect(kms).toHaveLength(HANDLER_OPERATIONS.length);
    for (const statement of secret) expect(statement.Resource).toBe(EXISTING_CONTEXT.existingSecretArn);
    for (const statement of kms) {
      expect(statement).toMatchObject({
        Resource: EXISTING_CONTEXT.existingSecretKmsKeyArn,
        Condition: {
          StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
        },
      });
    }
  });

  it('has no prune schedule when both retention actions are off, and no prune defaults', () => {
    const targets = propertiesOf(existing.template, 'AWS::Scheduler::Schedule').map((schedule) => JSON.stringify(schedule.Target));
    // partitions, archive, vacuum, stats.
    expect(targets).toHaveLength(4);
    expect(targets.some((target) => target.includes('FunctionsPrune'))).toBe(false);
    const envs = JSON.stringify(propertiesOf(existing.template, 'AWS::Lambda::Function').map((fn) => fn.Environment));
    expect(envs).not.toContain('PRUNE_');
  });
});

describe('Secrets Manager endpoint', () => {
  const endpointSubnets = (template: typeof aurora.template) =>
    propertiesOf(template, 'AWS::EC2::VPCEndpoint')
      .filter((endpoint) => endpoint.VpcEndpointType === 'Interface')
      .map((endpoint) => (endpoint.SubnetIds as unknown[]).length);

  it('is in two availability zones with a Multi-AZ database, or when the context asks; one otherwise', () => {
    expect(endpointSubnets(aurora.template)).toEqual([1]);
    const multiAz = synthesize({ multiAz: 'true' });
    const two = synthesize({ secretsManagerEndpointZones: '2' });
    const oneOfTwo = synthesize({ ...EXISTING_CONTEXT, existingCreateSecretsManagerEndpoint: 'true' });
    try {
      expect(endpointSubnets(multiAz.template)).toEqual([2]);
      expect(endpointSubnets(two.template)).toEqual([2]);
      expect(propertiesOf(oneOfTwo.template, 'AWS::EC2::VPCEndpoint').map((endpoint) => endpoint.SubnetIds)).toContainEqual([
        'subnet-0123456789abcdef0',
      ]);
    } finally {
      for (const synthesized of [multiAz, two, oneOfTwo]) synthesized.cleanup();
    }
  });
});

describe('storage limit', () => {
  it('is given to stats and alarmed on when the context names it for an existing database', () => {
    const limited = synthesize({ ...EXISTING_CONTEXT, storageLimitGiB: '100', storageRunwayAlarmDays: '30' });
    const functions = propertiesOf(limited.template, 'AWS::Lambda::Function');
    const stats = functions.filter((fn) => String(JSON.stringify(fn.Environment)).includes('DB_STORAGE_LIMIT_BYTES'));
    expect(stats.map((fn) => (fn.Environment as { Variables: Record<string, string> }).Variables.DB_STORAGE_LIMIT_BYTES)).toEqual([
      String(100 * 1024 ** 3),
    ]);
    const runway = propertiesOf(limited.template, 'AWS::CloudWatch::Alarm').filter((alarm) => alarm.MetricName === 'StorageRunwayDays');
    expect(runway.map((alarm) => alarm.Threshold)).toEqual([30]);
    const existingAlarms = propertiesOf(existing.template, 'AWS::CloudWatch::Alarm');
    expect(existingAlarms.filter((alarm) => alarm.MetricName === 'StorageRunwayDays')).toEqual([]);
  });
});
