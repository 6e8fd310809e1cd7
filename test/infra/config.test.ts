import { describe, expect, it } from 'vitest';
import { InputError } from '../../functions/shared/errors';
import { CONTEXT_KEYS, describeConfigError, parseStackConfig } from '../../infra/config';
import { createApp } from '../../infra/create-app';
import { EXISTING_CONTEXT } from '../support/infra';

const problemsOf = (context: Record<string, unknown>): string[] => {
  try {
    parseStackConfig(context);
  } catch (error) {
    if (error instanceof InputError) return error.problems;
    throw error;
  }
  throw new Error('expected the context to be rejected');
};

describe('stack context', () => {
  it('defaults to a new RDS database with the documented settings, and ignores CDK flags', () => {
    expect(parseStackConfig({ '@aws-cdk/core:validateAgainstDefaultRules': true, 'aws:cdk:enable-path-metadata': true })).toEqual({
      database: {
        kind: 'rds',
        deletionProtection: true,
        backupRetentionDays: 7,
        instanceType: 't4g.micro',
        multiAz: false,
        minCapacity: 0.5,
        maxCapacity: 4,
        engineVersion: '18',
        endpointZones: 1,
      },
      reservedConcurrency: false,
      alarmEmail: undefined,
      dataAgeAlarmSeconds: 3600,
      daysAhead: 7,
      dropPartitionsOlderThanDays: 180,
      deleteRowsOlderThanDays: undefined,
      metricsNamespace: 'PerpsStats',
      // The RDS instance's storage autoscaling ceiling, 500 GiB.
      storageLimitBytes: 500 * 1024 ** 3,
      storageRunwayAlarmDays: 14,
      archive: { afterDays: 2, transition: { storageClass: 'GLACIER_IR', afterDays: 30 } },
    });
  });

  it('archives by default, and takes the archive keys from -c strings and cdk.json values alike', () => {
    expect(parseStackConfig({ archive: 'false' }).archive).toBeUndefined();
    expect(parseStackConfig({ archive: false }).archive).toBeUndefined();
    const fromCli = parseStackConfig({ archiveAfterDays: '3', archiveTransitionDays: '60', archiveStorageClass: 'STANDARD_IA' });
    const fromJson = parseStackConfig({
      archive: true,
      archiveAfterDays: 3,
      archiveTransitionDays: 60,
      archiveStorageClass: 'STANDARD_IA',
    });
    expect(fromCli).toEqual(fromJson);
    expect(fromCli.archive).toEqual({ afterDays: 3, transition: { storageClass: 'STANDARD_IA', afterDays: 60 } });
    expect(parseStackConfig({ archiveTransitionDays: 'off' }).archive).toEqual({ afterDays: 2, transition: undefined });
  });

  it('refuses bad archive values, each saying what it must be', () => {
    expect(problemsOf({ archive: 'maybe', archiveAfterDays: '0', archiveTransitionDays: '1.5', archiveStorageClass: 'GLACIER' })).toEqual([
      'archive: must be true or false',
      'archiveAfterDays: must be a whole number from 1 to 36500',
      'archiveTransitionDays: must be a whole number',
      'archiveStorageClass: must be one of GLACIER_IR, STANDARD_IA',
    ]);
  });

  it('refuses archive keys that contradict each other or prune', () => {
    expect(problemsOf({ archive: 'false', archiveAfterDays: '3', archiveStorageClass: 'GLACIER_IR' })).toEqual([
      'archiveAfterDays, archiveStorageClass: only used with archive=true: remove them, or remove archive=false',
    ]);
    expect(problemsOf({ archiveStorageClass: 'STANDARD_IA', archiveTransitionDays: '7' })).toEqual([
      'archiveTransitionDays: S3 moves objects to STANDARD_IA only after 30 days or more: raise it, or use GLACIER_IR',
    ]);
    expect(problemsOf({ archiveStorageClass: 'GLACIER_IR', archiveTransitionDays: 'off' })).toEqual([
      'archiveStorageClass: unused with archiveTransitionDays=off (objects stay in S3 Standard): remove one of them',
    ]);
    expect(problemsOf({ archiveAfterDays: '7', dropPartitionsOlderThanDays: '7' })).toEqual([
      'dropPartitionsOlderThanDays: 7 days is not more than archiveAfterDays (7): prune would reach days before they are archived and refuse to drop them; raise it or lower archiveAfterDays',
    ]);
    expect(problemsOf({ existingS3EndpointRouteTableIds: 'rtb-0123456789abcdef0' })).toEqual([
      'existingS3EndpointRouteTableIds: only used with database=existing (a new VPC gets its S3 endpoint anyway): remove it',
    ]);
    expect(problemsOf({ ...EXISTING_CONTEXT, archive: 'false', existingS3EndpointRouteTableIds: 'rtb-0123456789abcdef0' })).toEqual([
      'existingS3EndpointRouteTableIds: only used with archive=true: remove them, or remove archive=false',
    ]);
    expect(problemsOf({ ...EXISTING_CONTEXT, existingS3EndpointRouteTableIds: 'rtb-1,subnet-0123456789abcdef0' })).toEqual([
      'existingS3EndpointRouteTableIds.0: must be route table ids (rtb- and 8 or 17 hex digits)',
      'existingS3EndpointRouteTableIds.1: must be route table ids (rtb- and 8 or 17 hex digits)',
    ]);
    // A route table two subnets share is given once.
    expect(
      parseStackConfig({ ...EXISTING_CONTEXT, existingS3EndpointRouteTableIds: ['rtb-0123456789abcdef0', 'rtb-0123456789abcdef0'] })
        .database,
    ).toMatchObject({ s3EndpointRouteTableIds: ['rtb-0123456789abcdef0'] });
    // Without archiving, or without partition drops, the two do not meet.
    expect(parseStackConfig({ archive: 'false', dropPartitionsOlderThanDays: '1' }).dropPartitionsOlderThanDays).toBe(1);
    expect(parseStackConfig({ archiveAfterDays: '30', dropPartitionsOlderThanDays: 'off' }).archive?.afterDays).toBe(30);
  });

  it('takes the storage limit in GiB from the context, and none for aurora without it', () => {
    expect(parseStackConfig({ database: 'aurora' }).storageLimitBytes).toBeUndefined();
    expect(parseStackConfig({ database: 'aurora', storageLimitGiB: '64' }).storageLimitBytes).toBe(64 * 1024 ** 3);
    expect(parseStackConfig({ storageRunwayAlarmDays: 'off' }).storageRunwayAlarmDays).toBeUndefined();
    expect(() => parseStackConfig({ storageLimitGiB: '1.5' })).toThrow(/storageLimitGiB: must be a whole number/);
  });

  it('puts the Secrets Manager endpoint in one zone, two with multiAz, as the context says; refuses other counts and a stray key', () => {
    const zonesOf = (context: Record<string, unknown>) => (parseStackConfig(context).database as { endpointZones: number }).endpointZones;
    expect(zonesOf({ multiAz: 'true' })).toBe(2);
    expect(zonesOf({ secretsManagerEndpointZones: '2' })).toBe(2);
    expect(zonesOf({ multiAz: true, secretsManagerEndpointZones: 1 })).toBe(1);
    expect(zonesOf({ ...EXISTING_CONTEXT, existingCreateSecretsManagerEndpoint: 'true', secretsManagerEndpointZones: '2' })).toBe(2);
    expect(problemsOf({ secretsManagerEndpointZones: '3' })).toEqual(['secretsManagerEndpointZones: must be 1 or 2']);
    expect(problemsOf({ ...EXISTING_CONTEXT, secretsManagerEndpointZones: '2' })).toEqual([
      'secretsManagerEndpointZones: only used with existingCreateSecretsManagerEndpoint=true: add it or remove this key',
    ]);
  });

  it('reads -c strings and cdk.json values alike', () => {
    const fromCli = parseStackConfig({
      ...EXISTING_CONTEXT,
      existingPort: '6432',
      dataAgeAlarmSeconds: '0',
      existingCreateSecretsManagerEndpoint: 'true',
    });
    const fromJson = parseStackConfig({
      ...EXISTING_CONTEXT,
      existingSubnetIds: EXISTING_CONTEXT.existingSubnetIds.split(','),
      existingAvailabilityZones: EXISTING_CONTEXT.existingAvailabilityZones.split(','),
      existingPort: 6432,
      dataAgeAlarmSeconds: false,
      existingCreateSecretsManagerEndpoint: true,
    });
    expect(fromCli).toEqual(fromJson);
    expect(fromCli.database).toMatchObject({
      kind: 'existing',
      port: 6432,
      subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
    });
    expect(fromCli.dataAgeAlarmSeconds).toBeUndefined();
  });

  it('reports every bad value at once, each saying what it must be', () => {
    expect(
      problemsOf({
        database: 'mysql',
        daysAhead: '0',
        instanceType: 'm7i.large',
        alarmEmail: 'oncall',
        dropPartitionsOlderThanDays: 'soon',
        datbase: 'aurora',
      }),
    ).toEqual([
      'database: must be one of rds, aurora, existing',
      'instanceType: must be a Graviton instance type such as t4g.micro, m7g.large or r8g.xlarge',
      'alarmEmail: must be an e-mail address',
      'daysAhead: must be a whole number from 1 to 366',
      'dropPartitionsOlderThanDays: must be a whole number from 1 to 36500',
      'unknown key datbase: remove it',
    ]);
  });

  it('names every missing or inconsistent key of an existing database', () => {
    expect(
      problemsOf({ database: 'existing', existingSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:perps-db' }),
    ).toEqual([
      'existingSecretArn: must be the complete secret ARN, ending in the 6-character suffix Secrets Manager adds (-AbCdEf)',
      'existingVpcId: required with database=existing',
      'existingSubnetIds: required with database=existing',
      'existingAvailabilityZones: required with database=existing',
      'existingSecurityGroupId: required with database=existing',
    ]);
    expect(problemsOf({ ...EXISTING_CONTEXT, existingAvailabilityZones: 'eu-west-1a' })).toEqual([
      'existingAvailabilityZones: lists 1 zones for 2 subnets: give the zone of each subnet, in the same order',
    ]);
    expect(problemsOf({ existingVpcId: 'vpc-0123456789abcdef0' })).toEqual([
      'existingVpcId: only used with database=existing: add -c database=existing or remove them',
    ]);
  });

  it('takes reservedConcurrency and an engine version per database kind, and says what is wrong with a bad one', () => {
    expect(parseStackConfig({ reservedConcurrency: 'true', database: 'aurora', engineVersion: '17.6' })).toMatchObject({
      reservedConcurrency: true,
      database: { kind: 'aurora', engineVersion: '17.6' },
    });
    expect(parseStackConfig({ database: 'aurora' }).database).toMatchObject({ engineVersion: '18.4' });
    expect(parseStackConfig({ engineVersion: '16' }).database).toMatchObject({ kind: 'rds', engineVersion: '16' });
    expect(problemsOf({ reservedConcurrency: 'yes', engineVersion: 'latest' })).toEqual([
      'engineVersion: must be MAJOR or MAJOR.MINOR, such as 18 or 18.4',
      'reservedConcurrency: must be true or false',
    ]);
    // As a JSON number, 17.10 would arrive as 17.1.
    expect(problemsOf({ engineVersion: 17.1 })).toEqual(['engineVersion: must be a version such as "18" or "18.4" (quoted in cdk.json)']);
    // Cross-key problems come with the others, not after they are fixed.
    expect(problemsOf({ database: 'aurora', engineVersion: '18', daysAhead: '0' })).toEqual([
      'daysAhead: must be a whole number from 1 to 366',
      "engineVersion: Aurora needs MAJOR.MINOR, such as 18.4: aws rds describe-db-engine-versions --engine aurora-postgresql lists the region's versions",
    ]);
    expect(problemsOf({ engineVersion: '11.22' })).toEqual([
      'engineVersion: PostgreSQL 11 is not one this project is tested on: use a major from 12 to 18',
    ]);
    expect(problemsOf({ ...EXISTING_CONTEXT, engineVersion: '18' })).toEqual([
      'engineVersion: only used with a new database (rds or aurora): remove it',
    ]);
  });

  it('fails createApp before any construct exists, with a message that says how to fix it', () => {
    let caught: unknown;
    try {
      createApp({ context: { database: 'aurora', auroraMinCapacity: '8', auroraMaxCapacity: '2.25' } });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect(describeConfigError(caught as InputError)).toBe(
      [
        'perps-stats-db: bad CDK context, nothing was synthesized:',
        '  - auroraMaxCapacity: must be a multiple of 0.5',
        'Pass context as `npx cdk synth -c key=value` or in cdk.json "context"; the keys are listed in docs/deploy.md.',
      ].join('\n'),
    );
  });

  it('documents every key it accepts, and accepts every key it documents', () => {
    for (const key of Object.keys(CONTEXT_KEYS)) expect(problemsOf({ [key]: '%%' }).join()).not.toContain('unknown key');
  });
});
