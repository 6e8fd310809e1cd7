import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  ARCHIVE_COLUMNS,
  ARCHIVE_VARIABLES,
  ATHENA_TYPES,
  archiveTablePrefix,
  DEFAULT_ARCHIVE_PREFIX,
} from '../../functions/shared/archive/layout';
import { TIME_SERIES_TABLES, type TimeSeriesTable } from '../../functions/shared/tables';
import type { ArchiveConfig } from '../config';
import type { DatabaseTarget } from './database';

/** The Glue database Athena queries: `SELECT ... FROM perps_archive.trades`. */
export const ARCHIVE_GLUE_DATABASE = 'perps_archive';
/**
 * The first day Athena's partition projection considers. Projection only computes locations
 * (a day with no object returns no rows), so an early start costs nothing but a wider scan for
 * a query with no `day` filter.
 */
export const ARCHIVE_PROJECTION_START = '2020-01-01';
/** How long an overwritten or deleted object's previous version is kept (versioning). */
export const ARCHIVE_NONCURRENT_DAYS = 30;

/** What a function may do in the archive: the archive function writes, restore and prune read. */
export type ArchiveAccess = 'write' | 'read';

export interface ArchiveProps {
  readonly config: ArchiveConfig;
  readonly database: DatabaseTarget;
  /**
   * Where the S3 gateway endpoint goes. `subnets`: the stack owns the VPC (a new database), the
   * endpoint goes on the route tables of the functions' subnets. `routeTables`: an existing VPC,
   * on the route tables the context names. None: an existing VPC reaches S3 its own way (its own
   * gateway endpoint, NAT): a second S3 gateway endpoint on a route table that has one is refused.
   */
  readonly endpoint: { subnets: true } | { routeTables: string[] } | undefined;
}

/**
 * The archive of closed day partitions (functions/shared/archive/layout.ts is the contract): one
 * S3 bucket, an S3 gateway endpoint so the isolated functions reach it without NAT, and a Glue
 * database with one table per time-series table, partition-projected on `day`, so Athena
 * queries the Parquet files with no crawler.
 *
 * The bucket is RETAINed: it holds history that, once prune has dropped the partitions, exists
 * nowhere else. Deleting the stack leaves it; the Glue database and tables, only a description
 * of the files, go with the stack.
 * Versioning is on, with previous versions kept {@link ARCHIVE_NONCURRENT_DAYS} days: an
 * object overwritten by a bug or deleted by hand can be recovered for that long, while a day
 * archived again (late rows) costs its old copy for that long only.
 */
export class Archive extends Construct {
  readonly bucket: s3.Bucket;
  readonly prefix = DEFAULT_ARCHIVE_PREFIX;
  readonly glueDatabase: glue.Database;
  readonly tables: Record<TimeSeriesTable, glue.S3Table>;
  /** Undefined for an existing VPC that reaches S3 its own way (see ArchiveProps.endpoint). */
  readonly endpoint: ec2.GatewayVpcEndpoint | ec2.CfnVPCEndpoint | undefined;

  constructor(scope: Construct, id: string, props: ArchiveProps) {
    super(scope, id);
    this.bucket = this.createBucket(props.config);
    this.endpoint = props.endpoint ? this.createEndpoint(props.database, props.endpoint) : undefined;
    this.glueDatabase = new glue.Database(this, 'GlueDatabase', {
      databaseName: ARCHIVE_GLUE_DATABASE,
      description: 'perps-stats-db: closed day partitions archived as Parquet (one table per time-series table)',
    });
    // Metadata only, made again from the contract by any deploy; CDK would retain it (its tables
    // it deletes), and a retained `perps_archive` makes the next stack's create fail on the name.
    this.glueDatabase.applyRemovalPolicy(RemovalPolicy.DESTROY);
    this.tables = Object.fromEntries(TIME_SERIES_TABLES.map((table) => [table, this.createTable(table)])) as Record<
      TimeSeriesTable,
      glue.S3Table
    >;
  }

  /** The variables that point a function at the archive (the handlers read ARCHIVE_VARIABLES). */
  environment(): Record<string, string> {
    return { [ARCHIVE_VARIABLES.bucket]: this.bucket.bucketName, [ARCHIVE_VARIABLES.prefix]: this.prefix };
  }

  /**
   * Object access under the archive prefix only, and ListBucket on the bucket. ListBucket is
   * what turns a HeadObject of a missing key into 404 instead of 403 (the store's `size()`
   * tells "no object" from "not allowed" by it); the bucket holds nothing but the archive, so
   * listing reveals archive key names and no data.
   */
  grant(fn: lambda.Function, access: ArchiveAccess): void {
    const objects = this.bucket.arnForObjects(`${this.prefix}/*`);
    const objectActions = access === 'write' ? ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'] : ['s3:GetObject'];
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: objectActions, resources: [objects] }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnElement);
    Validations.of(fn.role ?? fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${this.prefix}/*]`,
      reason: `The archive's objects are one per table and day, named by the day: access is scoped to the archive prefix ${this.prefix}/ of the stack's own bucket.`,
    });
  }

  private createBucket(config: ArchiveConfig): s3.Bucket {
    const bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'archive',
          // The writer aborts a failed upload itself; this catches a process that died mid-upload.
          abortIncompleteMultipartUploadAfter: Duration.days(1),
          noncurrentVersionExpiration: Duration.days(ARCHIVE_NONCURRENT_DAYS),
          expiredObjectDeleteMarker: true,
          ...(config.transition
            ? {
                transitions: [
                  {
                    storageClass:
                      config.transition.storageClass === 'GLACIER_IR'
                        ? s3.StorageClass.GLACIER_INSTANT_RETRIEVAL
                        : s3.StorageClass.INFREQUENT_ACCESS,
                    transitionAfter: Duration.days(config.transition.afterDays),
                  },
                ],
              }
            : {}),
        },
      ],
    });
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'No server access logs: only the stack functions (prefix-scoped IAM) and Athena users touch this bucket; CloudTrail data events can be turned on for an audit trail.',
    });
    return bucket;
  }

  /**
   * The S3 gateway endpoint on the functions' route tables: free, no NAT. In the stack's own VPC
   * its policy admits requests to this bucket only, so nothing there can move data to another
   * bucket. An existing VPC's route tables are given by id (the L1 resource takes them as they
   * are) and get an endpoint with the default policy, full access: other workloads use them too.
   */
  private createEndpoint(
    database: DatabaseTarget,
    where: NonNullable<ArchiveProps['endpoint']>,
  ): ec2.GatewayVpcEndpoint | ec2.CfnVPCEndpoint {
    if ('routeTables' in where) {
      // No policy: these route tables are the existing VPC's, shared with its other workloads,
      // whose S3 traffic takes this endpoint from now on. A policy narrowed to the archive bucket
      // would cut them off from their own buckets. The functions' IAM policies still limit them
      // to the archive prefix; what is lost is only the endpoint's own guard against copying
      // data to another bucket (docs/deploy.md, Archive).
      return new ec2.CfnVPCEndpoint(this, 'S3Endpoint', {
        vpcId: database.vpc.vpcId,
        serviceName: ec2.GatewayVpcEndpointAwsService.S3.name,
        vpcEndpointType: 'Gateway',
        routeTableIds: where.routeTables,
      });
    }
    const endpoint = new ec2.GatewayVpcEndpoint(this, 'S3Endpoint', {
      vpc: database.vpc,
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [database.subnets],
    });
    endpoint.addToPolicy(
      new iam.PolicyStatement({
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListBucket'],
        resources: [this.bucket.bucketArn, this.bucket.arnForObjects('*')],
      }),
    );
    return endpoint;
  }

  /**
   * One Glue table per time-series table, columns and types straight from the contract.
   * `day` is a string partition with date projection (AWS documents projected dates as string
   * keys), and `has_encrypted_data` is false: it means client-side KMS encryption, while
   * SSE-S3 objects need nothing to be read.
   */
  private createTable(table: TimeSeriesTable): glue.S3Table {
    const location = archiveTablePrefix(this.prefix, table);
    return new glue.S3Table(this, `${table}Table`, {
      database: this.glueDatabase,
      tableName: table,
      description: `perps-stats-db ${table}, one Parquet object per day (s3://<bucket>/${location}day=YYYY-MM-DD/)`,
      storage: glue.S3TableStorage.fromBucket(this.bucket),
      s3Prefix: location,
      dataFormat: glue.DataFormat.PARQUET,
      hasEncryptedData: false,
      columns: ARCHIVE_COLUMNS[table].map((column) => ({
        name: column.name,
        type: glue.Schema.custom(ATHENA_TYPES[column.kind], true),
        ...(column.nullable ? {} : { comment: 'not null' }),
      })),
      partitionKeys: [{ name: 'day', type: glue.Schema.STRING, comment: 'UTC day, YYYY-MM-DD' }],
      partitionProjection: {
        day: glue.PartitionProjectionConfiguration.date({
          min: ARCHIVE_PROJECTION_START,
          max: 'NOW',
          format: 'yyyy-MM-dd',
          step: { interval: 1, intervalUnit: glue.DateIntervalUnit.DAYS },
        }),
      },
      parameters: { 'storage.location.template': `s3://${this.bucket.bucketName}/${location}day=\${day}/` },
    });
  }
}

/** Lets a security group reach S3 (port 443): through the gateway endpoint in the stack's own VPC. */
export function allowArchiveTraffic(securityGroup: ec2.SecurityGroup): void {
  // Gateway endpoints have no security group and S3's prefix list id cannot be read without an
  // account lookup at synth; the isolated subnets route nothing but the endpoints, so 443 to
  // anywhere reaches S3 (through the endpoint) and Secrets Manager, nothing else.
  securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'S3 (gateway endpoint) and Secrets Manager');
}
