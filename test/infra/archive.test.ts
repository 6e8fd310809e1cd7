import { afterAll, describe, expect, it } from 'vitest';
import { ARCHIVE_COLUMNS, ATHENA_TYPES, DEFAULT_ARCHIVE_PREFIX } from '../../functions/shared/archive/layout';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import type { HandlerOperation } from '../../infra/bundling';
import { parseStackConfig } from '../../infra/config';
import { ARCHIVE_GLUE_DATABASE } from '../../infra/constructs/archive';
import { type ScheduleSpec, scheduleSpecs } from '../../infra/constructs/schedules';
import { EXISTING_CONTEXT, type Synthesized, synthesize } from '../support/infra';

// The default stack (archiving on, new RDS), one with archiving off, one on an existing VPC, and
// one with the other storage class: each synthesized once for the file.
const on = synthesize();
const off = synthesize({ archive: 'false' });
const existing = synthesize({ ...EXISTING_CONTEXT, archiveStorageClass: 'STANDARD_IA', archiveTransitionDays: '45' });
const standard = synthesize({ archiveTransitionDays: 'off', archiveAfterDays: '5' });
const routed = synthesize({ ...EXISTING_CONTEXT, existingS3EndpointRouteTableIds: 'rtb-0123456789abcdef0,rtb-0123456789abcdef1' });
afterAll(() => {
  for (const synthesized of [on, off, existing, standard, routed]) synthesized.cleanup();
});

type Resource = { Properties: Record<string, unknown>; UpdateReplacePolicy?: string; DeletionPolicy?: string };
type Statement = { Action: string | string[]; Effect: string; Resource: unknown; Condition?: unknown; Principal?: unknown };
const resources = ({ template }: Synthesized, type: string) => template.findResources(type) as Record<string, Resource>;
const only = (synthesized: Synthesized, type: string): Resource => {
  const all = Object.values(resources(synthesized, type));
  expect(all, type).toHaveLength(1);
  return all[0] as Resource;
};
const logicalId = ({ stack }: Synthesized, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as never);
const bucketId = (synthesized: Synthesized) => logicalId(synthesized, synthesized.stack.archive?.bucket as never);
const bucketArn = (synthesized: Synthesized) => ({ 'Fn::GetAtt': [bucketId(synthesized), 'Arn'] });
const prefixArn = (synthesized: Synthesized) => ({
  'Fn::Join': ['', [bucketArn(synthesized), `/${DEFAULT_ARCHIVE_PREFIX}/*`]],
});
/** The statements of a function's role policy (CDK's default policy, where addToRolePolicy writes). */
const roleStatements = (synthesized: Synthesized, operation: HandlerOperation): Statement[] => {
  const fn = synthesized.stack.handlers.functions[operation];
  const roleId = synthesized.stack.getLogicalId(fn.role?.node.defaultChild as never);
  return Object.values(resources(synthesized, 'AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
};
const s3Statements = (statements: Statement[]) => statements.filter((statement) => JSON.stringify(statement.Action).includes('s3:'));
const environmentOf = (synthesized: Synthesized, operation: HandlerOperation) => {
  const id = logicalId(synthesized, synthesized.stack.handlers.functions[operation]);
  const fn = resources(synthesized, 'AWS::Lambda::Function')[id] as Resource;
  return (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
};

describe('the archive bucket', () => {
  it('is encrypted with S3-managed keys, blocks all public access, and is kept when the stack goes', () => {
    const bucket = only(on, 'AWS::S3::Bucket');
    expect(bucket.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.UpdateReplacePolicy).toBe('Retain');
  });

  it('refuses every request that is not TLS', () => {
    const policy = only(on, 'AWS::S3::BucketPolicy');
    expect(policy.Properties.Bucket).toEqual({ Ref: bucketId(on) });
    expect((policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement).toEqual([
      {
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Resource: [bucketArn(on), { 'Fn::Join': ['', [bucketArn(on), '/*']] }],
      },
    ]);
  });

  it('moves objects to Glacier Instant Retrieval after 30 days by default, and cleans up uploads and old versions', () => {
    expect(only(on, 'AWS::S3::Bucket').Properties.LifecycleConfiguration).toEqual({
      Rules: [
        {
          Id: 'archive',
          Status: 'Enabled',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          ExpiredObjectDeleteMarker: true,
          NoncurrentVersionExpiration: { NoncurrentDays: 30 },
          Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 30 }],
        },
      ],
    });
  });

  it('takes the storage class and the days from the context, or keeps objects in Standard', () => {
    const rule = (synthesized: Synthesized) =>
      (only(synthesized, 'AWS::S3::Bucket').Properties.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules[0];
    expect(rule(existing)?.Transitions).toEqual([{ StorageClass: 'STANDARD_IA', TransitionInDays: 45 }]);
    expect(rule(standard)).not.toHaveProperty('Transitions');
    expect(rule(standard)?.AbortIncompleteMultipartUpload).toEqual({ DaysAfterInitiation: 1 });
  });
});

describe('the way to S3 from the isolated subnets', () => {
  it('is a gateway endpoint on the route table of each isolated subnet, admitting requests to the archive bucket only', () => {
    const endpoints = Object.values(resources(on, 'AWS::EC2::VPCEndpoint')).map((endpoint) => endpoint.Properties);
    const gateways = endpoints.filter((endpoint) => endpoint.VpcEndpointType === 'Gateway');
    expect(gateways).toHaveLength(1);
    const gateway = gateways[0] as Record<string, unknown>;
    expect(JSON.stringify(gateway.ServiceName)).toContain('.s3');
    const routeTables = Object.keys(resources(on, 'AWS::EC2::RouteTable'));
    expect(routeTables).toHaveLength(2);
    expect(gateway.RouteTableIds).toEqual(routeTables.map((id) => ({ Ref: id })));
    expect((gateway.PolicyDocument as { Statement: Statement[] }).Statement).toEqual([
      {
        Action: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:ListBucket', 's3:PutObject'],
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Resource: [bucketArn(on), { 'Fn::Join': ['', [bucketArn(on), '/*']] }],
      },
    ]);
  });

  it('lets the functions out on 443 (the isolated subnets route only to the endpoints); no NAT, no internet gateway', () => {
    const functionsGroup = resources(on, 'AWS::EC2::SecurityGroup')[logicalId(on, on.stack.handlers.securityGroup as never)];
    expect(functionsGroup?.Properties.SecurityGroupEgress).toContainEqual(
      expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }),
    );
    expect(Object.keys(resources(on, 'AWS::EC2::NatGateway'))).toEqual([]);
    expect(Object.keys(resources(on, 'AWS::EC2::InternetGateway'))).toEqual([]);
  });

  it('is left to the owner of an existing VPC: no endpoint is added to its route tables', () => {
    const gateways = Object.values(resources(existing, 'AWS::EC2::VPCEndpoint')).filter(
      (endpoint) => endpoint.Properties.VpcEndpointType === 'Gateway',
    );
    expect(gateways).toEqual([]);
  });

  // Issue 23, point 6: those route tables carry the existing VPC's other workloads too, whose S3
  // traffic takes the new endpoint: a policy narrowed to the archive bucket would cut them off
  // from their own buckets.
  it('is added to the route tables of an existing VPC that existingS3EndpointRouteTableIds names, with no policy that narrows it', () => {
    const gateways = Object.values(resources(routed, 'AWS::EC2::VPCEndpoint')).filter(
      (endpoint) => endpoint.Properties.VpcEndpointType === 'Gateway',
    );
    expect(gateways).toHaveLength(1);
    expect(gateways[0]?.Properties).toMatchObject({
      VpcId: EXISTING_CONTEXT.existingVpcId,
      RouteTableIds: ['rtb-0123456789abcdef0', 'rtb-0123456789abcdef1'],
    });
    // Absent: S3's default endpoint policy, full access, as the VPC had through its own route.
    expect(gateways[0]?.Properties).not.toHaveProperty('PolicyDocument');
    expect(JSON.stringify(gateways[0]?.Properties.ServiceName)).toContain('.s3');
  });

  it('still limits the functions themselves to the archive prefix on an existing VPC: their IAM policies are the same', () => {
    expect(s3Statements(roleStatements(routed, 'archive'))).toEqual([
      { Action: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'], Effect: 'Allow', Resource: prefixArn(routed) },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: bucketArn(routed) },
    ]);
  });
});

describe('IAM on the archive', () => {
  it('lets the archive function write, read and abort uploads under the archive prefix only, and list the bucket', () => {
    expect(s3Statements(roleStatements(on, 'archive'))).toEqual([
      { Action: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'], Effect: 'Allow', Resource: prefixArn(on) },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: bucketArn(on) },
    ]);
  });

  it.each(['prune', 'restore'] as const)('lets %s read objects under the archive prefix only, and list the bucket', (operation) => {
    expect(s3Statements(roleStatements(on, operation))).toEqual([
      { Action: 's3:GetObject', Effect: 'Allow', Resource: prefixArn(on) },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: bucketArn(on) },
    ]);
  });

  it('gives the functions that do not use the archive no S3 access at all', () => {
    for (const operation of ['migrate', 'partitions', 'stats', 'vacuum'] as const) {
      expect(s3Statements(roleStatements(on, operation)), operation).toEqual([]);
    }
  });

  it('grants no s3:* and no object access outside the prefix in any statement of the stack', () => {
    const statements = Object.values(resources(on, 'AWS::IAM::Policy')).flatMap(
      (policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );
    for (const statement of s3Statements(statements)) {
      expect([statement.Action].flat(), JSON.stringify(statement)).not.toContain('s3:*');
      const objectAction = [statement.Action].flat().some((action) => action !== 's3:ListBucket');
      if (objectAction) expect(statement.Resource).toEqual(prefixArn(on));
      else expect(statement.Resource).toEqual(bucketArn(on));
    }
  });
});

describe('the functions and archiving on or off', () => {
  it('points prune at the archive when archiving is on, so it refuses to drop a day without a verified archive; and restore', () => {
    const archiveVariables = (synthesized: Synthesized, operation: HandlerOperation) =>
      Object.fromEntries(Object.entries(environmentOf(synthesized, operation)).filter(([name]) => name.startsWith('ARCHIVE_')));
    const where = { ARCHIVE_BUCKET: { Ref: bucketId(on) }, ARCHIVE_PREFIX: DEFAULT_ARCHIVE_PREFIX };
    for (const operation of ['prune', 'restore'] as const) expect(archiveVariables(on, operation), operation).toEqual(where);
    // The archive function's own payload default, from archiveAfterDays.
    expect(archiveVariables(on, 'archive')).toEqual({ ...where, ARCHIVE_AFTER_DAYS: '2' });
    expect(archiveVariables(standard, 'archive')).toMatchObject({ ARCHIVE_AFTER_DAYS: '5' });
    for (const operation of ['migrate', 'partitions', 'stats', 'vacuum'] as const) {
      expect(
        Object.keys(environmentOf(on, operation)).filter((name) => name.startsWith('ARCHIVE_')),
        operation,
      ).toEqual([]);
    }
  });

  it('schedules archive between partitions and prune, with room for a 15-minute run and a retry; restore never', () => {
    const at = (spec: ScheduleSpec | undefined) => Number(spec?.cron.hour) * 60 + Number(spec?.cron.minute);
    const specs = scheduleSpecs(parseStackConfig({}));
    const spec = (operation: HandlerOperation) => specs.find((candidate) => candidate.operation === operation);
    // partitions runs every hour: archive starts at least 15 minutes (a long run) after its last run.
    const partitions = spec('partitions');
    expect(partitions?.cron.hour).toBe('*');
    expect((at(spec('archive')) - Number(partitions?.cron.minute) + 60) % 60).toBeGreaterThanOrEqual(15);
    expect(at(spec('prune')) - at(spec('archive'))).toBeGreaterThanOrEqual(30);
    expect(spec('archive')?.input).toEqual({});
    expect(spec('restore')).toBeUndefined();
    expect(scheduleSpecs(parseStackConfig({ archive: 'false' })).map((candidate) => candidate.operation)).not.toContain('archive');
  });

  it('alarms on archive failures and graphs what the archive wrote, only when archiving is on', () => {
    const archiveAlarms = (synthesized: Synthesized) =>
      Object.values(resources(synthesized, 'AWS::CloudWatch::Alarm'))
        .map((alarm) => alarm.Properties)
        .filter((alarm) => alarm.MetricName === 'ArchiveFailures');
    expect(archiveAlarms(on)).toEqual([
      expect.objectContaining({
        Namespace: 'PerpsStats',
        Dimensions: expect.arrayContaining([{ Name: 'Operation', Value: 'archive' }]),
        Statistic: 'Sum',
        Period: 300,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      }),
    ]);
    expect(archiveAlarms(off)).toEqual([]);
    const body = (synthesized: Synthesized) => JSON.stringify(only(synthesized, 'AWS::CloudWatch::Dashboard').Properties.DashboardBody);
    for (const metric of ['ArchivedRows', 'ArchivedBytes', 'ArchiveFailures', 'ArchivedPartitions', 'PartitionsKept']) {
      expect(body(on), metric).toContain(metric);
      expect(body(off), metric).not.toContain(metric);
    }
  });

  it('with archive=false has no bucket, endpoint, Glue or S3 permission, and prune drops as before', () => {
    expect(off.stack.archive).toBeUndefined();
    for (const type of ['AWS::S3::Bucket', 'AWS::Glue::Database', 'AWS::Glue::Table']) {
      expect(Object.keys(resources(off, type)), type).toEqual([]);
    }
    expect(Object.values(resources(off, 'AWS::EC2::VPCEndpoint')).map((endpoint) => endpoint.Properties.VpcEndpointType)).toEqual([
      'Interface',
    ]);
    expect(JSON.stringify(off.template.toJSON())).not.toMatch(/ARCHIVE_|"s3:(Get|Put|List)/);
    expect(Object.keys(off.template.toJSON().Outputs)).not.toContain('ArchiveBucketName');
  });

  it('names the bucket and the Glue database in the outputs', () => {
    const outputs = on.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.ArchiveBucketName?.Value).toEqual({ Ref: bucketId(on) });
    expect(outputs.ArchiveGlueDatabase?.Value).toEqual({ Ref: logicalId(on, on.stack.archive?.glueDatabase as never) });
  });
});

describe('the Glue tables Athena reads', () => {
  const tableInputs = () =>
    Object.values(resources(on, 'AWS::Glue::Table')).map(
      (table) => table.Properties.TableInput as Record<string, unknown> & { Name: string },
    );

  it('is one database with one table per time-series table, deleted with the stack (the files stay)', () => {
    const database = only(on, 'AWS::Glue::Database');
    expect(database.Properties.DatabaseInput).toMatchObject({ Name: ARCHIVE_GLUE_DATABASE });
    expect(database.DeletionPolicy).toBe('Delete');
    for (const table of Object.values(resources(on, 'AWS::Glue::Table'))) expect(table.DeletionPolicy).toBeUndefined();
    expect(
      tableInputs()
        .map((input) => input.Name)
        .sort(),
    ).toEqual([...TIME_SERIES_TABLES].sort());
  });

  it.each(TIME_SERIES_TABLES)('%s: columns and types exactly from ARCHIVE_COLUMNS, Parquet, under the table prefix', (table) => {
    const input = tableInputs().find((candidate) => candidate.Name === table) as Record<string, unknown>;
    const storage = input.StorageDescriptor as Record<string, unknown>;
    expect((storage.Columns as { Name: string; Type: string }[]).map(({ Name, Type }) => [Name, Type])).toEqual(
      ARCHIVE_COLUMNS[table].map((column) => [column.name, ATHENA_TYPES[column.kind]]),
    );
    expect(storage).toMatchObject({
      Location: { 'Fn::Join': ['', ['s3://', { Ref: bucketId(on) }, `/${DEFAULT_ARCHIVE_PREFIX}/${table}/`]] },
      InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
      SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
    });
    expect(input.PartitionKeys).toEqual([{ Name: 'day', Type: 'string', Comment: 'UTC day, YYYY-MM-DD' }]);
    expect(input.TableType).toBe('EXTERNAL_TABLE');
  });

  it.each(TIME_SERIES_TABLES)('%s: partition projection on day, dates from 2020-01-01 to today, at the Hive-style keys', (table) => {
    const input = tableInputs().find((candidate) => candidate.Name === table) as Record<string, unknown>;
    expect(input.Parameters).toEqual({
      classification: 'parquet',
      has_encrypted_data: false,
      'projection.enabled': 'true',
      'projection.day.type': 'date',
      'projection.day.range': '2020-01-01,NOW',
      'projection.day.format': 'yyyy-MM-dd',
      'projection.day.interval': '1',
      'projection.day.interval.unit': 'DAYS',
      'storage.location.template': {
        'Fn::Join': ['', ['s3://', { Ref: bucketId(on) }, `/${DEFAULT_ARCHIVE_PREFIX}/${table}/day=\${day}/`]],
      },
    });
  });
});
