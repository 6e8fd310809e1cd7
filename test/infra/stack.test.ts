import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { PARQUET_ENCODER_WORKER_FILE } from '../../functions/shared/archive/parquet-encoder';
import { PARQUET_WASM_FILE } from '../../functions/shared/archive/parquet-engine';
import { SEEDED_EXCHANGES } from '../../functions/shared/exchanges';
import { bundleDir, bundleFile, HANDLER_OPERATIONS, LAMBDA_HANDLER } from '../../infra/bundling';
import { STACK_OUTPUTS } from '../../infra/stack-contract';
import { synthesize } from '../support/infra';

// The default configuration (new RDS instance), synthesized once for the whole file.
const { template, stack, outdir, cleanup } = synthesize();
afterAll(cleanup);

type Resource = { Properties: Record<string, unknown>; DependsOn?: string[]; Metadata?: Record<string, unknown> };
const resources = (type: string) => template.findResources(type) as Record<string, Resource>;
const logicalId = (construct: { node: { defaultChild?: unknown } } | unknown) =>
  stack.getLogicalId((construct as { node: { defaultChild: never } }).node.defaultChild);
const fnId = (operation: (typeof HANDLER_OPERATIONS)[number]) => logicalId(stack.handlers.functions[operation]);
const fnProps = (operation: (typeof HANDLER_OPERATIONS)[number]) =>
  (resources('AWS::Lambda::Function')[fnId(operation)] as Resource).Properties;
const secretRef = { Ref: logicalId(stack.database.secret) };
const maintenanceSecretRef = { Ref: logicalId(stack.logins?.secrets.maintenance) };
const statsSecretRef = { Ref: logicalId(stack.logins?.secrets.stats) };

describe('functions', () => {
  // The archive's functions hold a Parquet row group and its rows: 1024 MB, and with it about 0.6 vCPU.
  const memory: Partial<Record<(typeof HANDLER_OPERATIONS)[number], number>> = { archive: 1024, restore: 1024 };
  it.each(HANDLER_OPERATIONS)('%s runs the handler bundle on Node.js 24, arm64, in the isolated subnets', (operation) => {
    expect(fnProps(operation)).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: LAMBDA_HANDLER,
      MemorySize: memory[operation] ?? 256,
    });
    expect(JSON.stringify(fnProps(operation).VpcConfig)).toMatch(/isolatedSubnet1.*isolatedSubnet2/);
  });

  it('ships, in each asset, exactly dist/<op>/index.mjs, the bundle the handler tests run, its Parquet encoder thread and engine, and no source map', () => {
    for (const operation of HANDLER_OPERATIONS) {
      const code = fnProps(operation).Code as { S3Key: string };
      const assetDir = join(outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
      expect(readFileSync(join(assetDir, 'index.mjs')).equals(readFileSync(bundleFile(operation))), operation).toBe(true);
      for (const file of [PARQUET_ENCODER_WORKER_FILE, PARQUET_WASM_FILE]) {
        expect(readFileSync(join(assetDir, file)).equals(readFileSync(join(bundleDir(operation), file))), `${operation} ${file}`).toBe(
          true,
        );
      }
      expect(() => readFileSync(join(assetDir, 'index.mjs.map'))).toThrow(/ENOENT/);
    }
  });

  it("gives each function its environment: its login's secret, the namespace and its own payload defaults, no TLS override", () => {
    const logins = { DB_MAINTENANCE_SECRET_ARN: maintenanceSecretRef, DB_STATS_SECRET_ARN: statsSecretRef };
    expect(fnProps('migrate').Environment).toEqual({ Variables: { DB_SECRET_ARN: secretRef, METRICS_NAMESPACE: 'PerpsStats', ...logins } });
    const common = { DB_SECRET_ARN: maintenanceSecretRef, METRICS_NAMESPACE: 'PerpsStats' };
    expect(fnProps('partitions').Environment).toEqual({ Variables: { ...common, PARTITIONS_DAYS_AHEAD: '7' } });
    // Archiving is on by default: prune refuses to drop a day the archive has not verified.
    const archive = { ARCHIVE_BUCKET: { Ref: logicalId(stack.archive?.bucket) }, ARCHIVE_PREFIX: 'perps-archive' };
    expect(fnProps('prune').Environment).toEqual({
      Variables: { ...common, PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS: '180', ...archive },
    });
    // 500 GiB: the RDS instance's storage autoscaling ceiling.
    expect(fnProps('stats').Environment).toEqual({
      Variables: {
        ...common,
        DB_SECRET_ARN: statsSecretRef,
        DB_STATEMENT_TIMEOUT_MS: '50000',
        DB_STORAGE_LIMIT_BYTES: String(500 * 1024 ** 3),
      },
    });
    expect(fnProps('vacuum').Environment).toEqual({ Variables: common });
  });

  it('sizes timeouts to the work', () => {
    const timeouts = Object.fromEntries(HANDLER_OPERATIONS.map((operation) => [operation, fnProps(operation).Timeout]));
    expect(timeouts).toEqual({ archive: 900, migrate: 600, partitions: 600, prune: 900, restore: 900, stats: 60, vacuum: 900 });
  });

  it('sets the asynchronous retries explicitly and sends failures to the encrypted, TLS-only queue', () => {
    const queueId = logicalId(stack.handlers.failureQueue);
    const configs = Object.values(resources('AWS::Lambda::EventInvokeConfig')).map((config) => config.Properties);
    const expected = {
      archive: [2, 21600],
      migrate: [0, 3600],
      partitions: [2, 21600],
      prune: [2, 21600],
      restore: [0, 3600],
      stats: [0, 300],
      vacuum: [2, 21600],
    };
    // And the deploy-time invoker of partitions, which only the Trigger calls: no retries; and
    // the current versions of migrate and partitions, which the triggers name (the same settings
    // as $LATEST: test/infra/failed-deploys.test.ts).
    expect(configs).toHaveLength(HANDLER_OPERATIONS.length + 3);
    expect(configs).toContainEqual({
      FunctionName: { Ref: logicalId(stack.deployMigrations.partitionsInvoker) },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 0,
    });
    for (const [operation, [retries, age]] of Object.entries(expected)) {
      expect(configs).toContainEqual({
        FunctionName: { Ref: fnId(operation as keyof typeof expected) },
        Qualifier: '$LATEST',
        MaximumRetryAttempts: retries,
        MaximumEventAgeInSeconds: age,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
      });
    }
  });

  it('keeps each log group 30 days', () => {
    for (const operation of HANDLER_OPERATIONS) {
      const logGroup = (fnProps(operation).LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(resources('AWS::Logs::LogGroup')[logGroup]?.Properties.RetentionInDays).toBe(30);
    }
  });

  it("lets each function read its login's secret and nothing else of Secrets Manager; the scheduler role names the functions exactly", () => {
    const statements = Object.values(resources('AWS::IAM::Policy')).flatMap(
      (policy) => (policy.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement,
    );
    const secretStatements = statements.filter((statement) => JSON.stringify(statement.Action).includes('secretsmanager'));
    expect(secretStatements).toHaveLength(HANDLER_OPERATIONS.length);
    // Which function reads which secret: test/infra/logins.test.ts.
    const readable = [secretRef, maintenanceSecretRef, statsSecretRef, [secretRef, maintenanceSecretRef, statsSecretRef]];
    for (const statement of secretStatements) {
      expect(statement).toMatchObject({ Action: 'secretsmanager:GetSecretValue', Effect: 'Allow' });
      expect(readable).toContainEqual(statement.Resource);
    }
    // No statement of ours names a wildcard resource.
    expect(JSON.stringify(statements)).not.toMatch(/"Resource":"\*"|:\*"/);
    const schedulerRole = Object.values(resources('AWS::IAM::Role')).find((role) =>
      JSON.stringify(role.Properties.AssumeRolePolicyDocument).includes('scheduler.amazonaws.com'),
    );
    expect(schedulerRole?.Properties.Policies).toEqual([
      {
        PolicyName: 'invoke',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Action: 'lambda:InvokeFunction',
              Effect: 'Allow',
              Resource: ['archive', 'partitions', 'prune', 'stats', 'vacuum'].map((operation) => ({
                'Fn::GetAtt': [fnId(operation as 'stats'), 'Arn'],
              })),
            },
            { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalId(stack.schedules.deadLetterQueue), 'Arn'] } },
          ],
        },
      },
    ]);
  });
});

describe('schedules', () => {
  const schedules = () => Object.values(resources('AWS::Scheduler::Schedule')).map((schedule) => schedule.Properties);

  it('runs partitions every hour at minute 45 (rows a stopped run left out of sight come back within the hour), archive, prune and vacuum daily, and stats every 5 minutes, in UTC, with their inputs, retry policy and DLQ', () => {
    const dlq = { Arn: { 'Fn::GetAtt': [logicalId(stack.schedules.deadLetterQueue), 'Arn'] } };
    const expected = [
      ['partitions', 'cron(45 * * * ? *)', { daysAhead: 7 }, { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 }],
      ['archive', 'cron(20 1 * * ? *)', {}, { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 7200 }],
      ['prune', 'cron(0 2 * * ? *)', { dropPartitionsOlderThanDays: 180 }, { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 7200 }],
      ['vacuum', 'cron(0 3 * * ? *)', {}, { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 7200 }],
      ['stats', 'cron(0/5 * * * ? *)', {}, { MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 300 }],
    ] as const;
    expect(schedules()).toHaveLength(5);
    for (const [operation, expression, input, retryPolicy] of expected) {
      const schedule = schedules().find((props) => JSON.stringify(props.Target).includes(fnId(operation)));
      expect(schedule, operation).toMatchObject({
        ScheduleExpression: expression,
        ScheduleExpressionTimezone: 'Etc/UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: 'ENABLED',
        Target: { RetryPolicy: retryPolicy, DeadLetterConfig: dlq },
      });
      expect(JSON.parse((schedule?.Target as { Input: string } | undefined)?.Input ?? 'null')).toEqual(input);
    }
  });
});

describe('migrations on deploy', () => {
  const triggers = resources('Custom::Trigger');
  const migrate = triggers[logicalId(stack.deployMigrations.migrate.node.findChild('Default'))] as Resource;
  const partitions = triggers[logicalId(stack.deployMigrations.partitions.node.findChild('Default'))] as Resource;

  it('invokes the current versions of migrate, then partitions (through its invoker), synchronously, waiting as long as each may run', () => {
    expect(migrate.Properties).toMatchObject({
      HandlerArn: { Ref: expect.stringMatching(/^FunctionsMigrateCurrentVersion/) },
      InvocationType: 'RequestResponse',
      Timeout: '660000',
      ExecuteOnHandlerChange: true,
    });
    expect(partitions.Properties).toMatchObject({
      HandlerArn: { Ref: expect.stringMatching(/^DeployMigrationsPartitionsInvokerCurrentVersion/) },
      InvocationType: 'RequestResponse',
      Timeout: '660000',
      ExecuteOnHandlerChange: true,
    });
    expect(partitions.DependsOn).toContain(logicalId(stack.deployMigrations.migrate.node.findChild('Default')));
  });

  it('runs only after the database, its secret attachment, the endpoint and the security group rules exist', () => {
    const ingressToDatabase = Object.keys(resources('AWS::EC2::SecurityGroupIngress'));
    for (const trigger of [migrate, partitions]) {
      expect(trigger.DependsOn).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^DatabaseInstance[0-9A-F]{8}$/),
          expect.stringMatching(/^DatabaseInstanceSecretAttachment[0-9A-F]{8}$/),
          expect.stringMatching(/^DatabaseNetworkSecretsManagerEndpoint[0-9A-F]{8}$/),
          ...ingressToDatabase,
        ]),
      );
    }
  });
});

describe('database and network', () => {
  it('is RDS PostgreSQL 18 on Graviton, encrypted, backed up, deletion-protected, in isolated subnets, with TLS forced', () => {
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      EngineVersion: '18',
      DBInstanceClass: 'db.t4g.micro',
      StorageEncrypted: true,
      StorageType: 'gp3',
      BackupRetentionPeriod: 7,
      // Turned on by the stack's last resource instead (test/infra/failed-deploys.test.ts).
      DeletionProtection: Match.absent(),
      MultiAZ: false,
      PubliclyAccessible: false,
    });
    template.resourceCountIs('Custom::DatabaseDeletionProtection', 1);
    template.hasResourceProperties('AWS::RDS::DBParameterGroup', { Family: 'postgres18', Parameters: { 'rds.force_ssl': '1' } });
  });

  it('has no NAT gateway and no internet gateway; Secrets Manager is reached through an interface endpoint', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.secretsmanager']] },
    });
  });

  it('puts the Secrets Manager endpoint in one availability zone, as the single-AZ database ($0.01 an hour each)', () => {
    const [endpoint] = Object.values(resources('AWS::EC2::VPCEndpoint')).filter((e) => e.Properties.VpcEndpointType === 'Interface');
    expect(endpoint?.Properties.SubnetIds).toEqual([{ Ref: expect.stringMatching(/isolatedSubnet1Subnet/) }]);
  });

  it('rotates the generated secret with hosted rotation inside the VPC, not during the deploy', () => {
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      HostedRotationLambda: { RotationType: 'PostgreSQLSingleUser', VpcSubnetIds: Match.anyValue(), VpcSecurityGroupIds: Match.anyValue() },
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
      RotateImmediatelyOnUpdate: false,
    });
  });

  it('encrypts both queues with SSE-SQS and refuses plain HTTP to them', () => {
    const queues = Object.values(resources('AWS::SQS::Queue'));
    expect(queues).toHaveLength(2);
    for (const queue of queues) expect(queue.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
    for (const policy of Object.values(resources('AWS::SQS::QueuePolicy'))) {
      expect(policy.Properties.PolicyDocument).toMatchObject({
        Statement: [{ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }],
      });
    }
  });
});

describe('alarms', () => {
  const alarms = () => Object.values(resources('AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties);
  const service = { Name: 'service', Value: 'perps-stats-db' };
  const alarmOn = (metricName: string, dimension?: { Name: string; Value: string }) =>
    alarms().filter(
      (alarm) =>
        alarm.MetricName === metricName &&
        (!dimension || (alarm.Dimensions as unknown[]).some((d) => JSON.stringify(d) === JSON.stringify(dimension))),
    );

  it('watches the time-series tables with one alarm each: shortest runway below 2 days, rows in a DEFAULT partition, stalest table older than an hour', () => {
    const common = { Namespace: 'PerpsStats', Dimensions: [service], TreatMissingData: 'notBreaching' };
    expect(alarmOn('PartitionRunwayDays')).toEqual([
      expect.objectContaining({
        ...common,
        Statistic: 'Minimum',
        Period: 900,
        Threshold: 2,
        ComparisonOperator: 'LessThanThreshold',
        EvaluationPeriods: 1,
      }),
    ]);
    expect(alarmOn('DefaultPartitionRows')).toEqual([
      expect.objectContaining({
        ...common,
        Statistic: 'Maximum',
        Period: 900,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
      }),
    ]);
    expect(alarmOn('DataAgeSeconds')).toEqual([
      expect.objectContaining({
        ...common,
        Statistic: 'Maximum',
        Period: 300,
        Threshold: 3600,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
      }),
    ]);
  });

  it('alarms per exchange when even its freshest table is older than dataAgeAlarmSeconds, for 15 minutes, on one metric each', () => {
    const exchangeAlarms = alarmOn('ExchangeDataAgeSeconds');
    expect(exchangeAlarms).toHaveLength(SEEDED_EXCHANGES.length);
    for (const exchange of SEEDED_EXCHANGES) {
      expect(alarmOn('ExchangeDataAgeSeconds', { Name: 'Exchange', Value: exchange }), exchange).toEqual([
        expect.objectContaining({
          Namespace: 'PerpsStats',
          Dimensions: [{ Name: 'Exchange', Value: exchange }, service],
          Statistic: 'Maximum',
          Period: 300,
          Threshold: 3600,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: 3,
          DatapointsToAlarm: 3,
          TreatMissingData: 'notBreaching',
        }),
      ]);
    }
  });

  it('alarms when the storage runway drops under 14 days', () => {
    expect(alarmOn('StorageRunwayDays', service)).toEqual([
      expect.objectContaining({
        Namespace: 'PerpsStats',
        Dimensions: [service],
        Statistic: 'Minimum',
        // Published in the first minutes of every 6th hour: each period has its point.
        Period: 21600,
        Threshold: 14,
        ComparisonOperator: 'LessThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      }),
    ]);
  });

  it('alarms when rows stay out of sight (left by a stopped or failed partitions run) at every stats run of a whole hour', () => {
    expect(alarmOn('BacklogRows', service)).toEqual([
      expect.objectContaining({
        Namespace: 'PerpsStats',
        Dimensions: [service],
        Statistic: 'Minimum',
        Period: 3600,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      }),
    ]);
  });

  it('alarms when a scheduled job is overdue (OverdueJobs, published by stats only when not 0: no data is none overdue)', () => {
    expect(alarmOn('OverdueJobs', service)).toEqual([
      expect.objectContaining({
        Namespace: 'PerpsStats',
        Dimensions: [service],
        Statistic: 'Maximum',
        Period: 900,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      }),
    ]);
  });

  it('alarms on any error of each function', () => {
    for (const operation of HANDLER_OPERATIONS) {
      expect(alarmOn('Errors', { Name: 'FunctionName', Value: { Ref: fnId(operation) } as never })).toEqual([
        expect.objectContaining({
          Namespace: 'AWS/Lambda',
          Statistic: 'Sum',
          Period: 300,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
        }),
      ]);
    }
  });

  it('notifies when stats metrics are missing for 15 minutes: INSUFFICIENT_DATA notifies', () => {
    const topic = { Ref: logicalId(stack.alarms.topic) };
    expect(alarmOn('DatabaseSizeBytes')).toEqual([
      expect.objectContaining({
        Namespace: 'PerpsStats',
        Dimensions: [service],
        Statistic: 'SampleCount',
        Period: 300,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'missing',
        InsufficientDataActions: [topic],
      }),
    ]);
  });

  it('alarms on any visible message in either dead-letter queue', () => {
    const queueAlarms = alarmOn('ApproximateNumberOfMessagesVisible');
    expect(queueAlarms.map((alarm) => JSON.stringify(alarm.Dimensions)).sort()).toEqual(
      [stack.handlers.failureQueue, stack.schedules.deadLetterQueue]
        .map((queue) => JSON.stringify([{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(queue), 'QueueName'] } }]))
        .sort(),
    );
    for (const alarm of queueAlarms)
      expect(alarm).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', Statistic: 'Maximum' });
  });

  it('puts service=perps-stats-db on every alarm of our namespace, and sends every alarm and recovery to the topic', () => {
    const topic = { Ref: logicalId(stack.alarms.topic) };
    // Runway, DEFAULT rows, data age, 7 exchanges, storage runway, errors, stats missing, JobsOverdue, 2 queues, ArchiveFailures, BacklogRows.
    expect(alarms()).toHaveLength(3 + SEEDED_EXCHANGES.length + 1 + HANDLER_OPERATIONS.length + 1 + 1 + 2 + 1 + 1);
    for (const alarm of alarms()) expect(alarm.Metrics, 'one metric per alarm: $0.10 each').toBeUndefined();
    for (const alarm of alarms()) {
      if (alarm.Namespace === 'PerpsStats') expect(alarm.Dimensions).toContainEqual(service);
      expect(alarm).toMatchObject({ AlarmActions: [topic], OKActions: [topic] });
    }
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('outputs', () => {
  it('writes what `npm run verify` reads: the function names, the secret, the topic, the dashboard and the metrics namespace', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const { functionName, ...others } = STACK_OUTPUTS;
    expect(Object.keys(outputs).sort()).toEqual([...HANDLER_OPERATIONS.map(functionName), ...Object.values(others)].sort());
    expect(outputs[STACK_OUTPUTS.metricsNamespace]?.Value).toBe('PerpsStats');
    expect(outputs[STACK_OUTPUTS.functionName('stats')]?.Value).toEqual({ Ref: fnId('stats') });
  });
});

describe('dashboard', () => {
  const body = () => JSON.stringify(Object.values(resources('AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody);
  it('graphs database size, table sizes, rows per hour, data age, runway, rows out of place and the scheduled runs', () => {
    for (const title of [
      'Database size',
      'Table size',
      'Rows in the trailing hour',
      'Data age (s): each exchange, its freshest table',
      'Data age (s): the stalest table',
      'Growth per day',
      'Partition runway',
      'Rows in DEFAULT partitions',
      'Successful runs',
      'Maintenance failures',
      'Maintenance work',
    ]) {
      expect(body()).toContain(title);
    }
    for (const metric of [
      'DatabaseSizeBytes',
      'TotalBytes',
      'RowsLastHour',
      'DataAgeSeconds',
      'ExchangeDataAgeSeconds',
      'BacklogRows',
      'DefaultPartitionRows',
      'GrowthBytesPerDay',
      'PartitionRunwayDays',
      'Success',
      'Failure',
      'PartitionsSealed',
      'RowsDeleted',
    ]) {
      expect(body()).toContain(`\\"${metric}\\"`);
    }
  });
});
