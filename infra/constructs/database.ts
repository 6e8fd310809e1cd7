import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, type IDependable } from 'constructs';
import { type ExistingDatabaseConfig, type NewDatabaseConfig, RDS_MAX_ALLOCATED_STORAGE_GIB } from '../config';
import type { ProtectedServer } from './deletion-protection';
import { createLogGroup } from './log-groups';
import { addSecretsManagerEndpoint, IsolatedNetwork } from './network';

/** What the functions need of a database, whichever kind it is. */
export interface DatabaseTarget {
  readonly vpc: ec2.IVpc;
  /** The subnets the functions run in. */
  readonly subnets: ec2.SubnetSelection;
  /** The secret in RDS shape (username, password, host, port, dbname). */
  readonly secret: secretsmanager.ISecret;
  /** The customer managed key of the secret, when there is one: readers need kms:Decrypt on it. */
  readonly secretKey: kms.IKey | undefined;
  /** The Secrets Manager endpoint, when the stack owns one. */
  readonly secretsManagerEndpoint: ec2.InterfaceVpcEndpoint | undefined;
  /** Lets a security group connect to the database port (and to the endpoint). */
  allowFrom(peer: ec2.ISecurityGroup): void;
}

/** The user the generated secret holds: it owns the schema, so `migrate` can create the reader and writer roles. */
const ADMIN_USER = 'perps_admin';
export const DATABASE_NAME = 'perps';
const POSTGRES_PORT = 5432;
/** What creating the database server gives: its secret, and what must exist before anyone logs in. */
interface CreatedDatabase {
  secret: secretsmanager.ISecret | undefined;
  servers: IDependable[];
  server: ProtectedServer;
}
/** The properties an RDS instance and an Aurora cluster take alike. */
type SharedDatabaseProps = Pick<
  rds.DatabaseInstanceProps & rds.DatabaseClusterProps,
  'vpc' | 'vpcSubnets' | 'securityGroups' | 'credentials' | 'storageEncrypted' | 'deletionProtection' | 'port'
>;

/**
 * A new PostgreSQL database in a new isolated network: an RDS instance (Graviton, gp3) or an
 * Aurora Serverless v2 cluster. Storage encrypted, backups kept, TLS forced by the parameter
 * group, the generated secret attached and rotated by a hosted rotation function every 30 days.
 */
export class NewDatabase extends Construct implements DatabaseTarget {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly secret: secretsmanager.ISecret;
  readonly secretKey = undefined;
  readonly secretsManagerEndpoint: ec2.InterfaceVpcEndpoint;
  /** The instance or cluster, for the DeletionProtection construct the stack adds last. */
  readonly server: ProtectedServer;
  /** The group of the rotation functions: allowed into the database and to the Secrets Manager endpoint. */
  readonly rotationSecurityGroup: ec2.SecurityGroup;
  private readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, config: NewDatabaseConfig) {
    super(scope, id);
    const network = new IsolatedNetwork(this, 'Network');
    this.vpc = network.vpc;
    this.subnets = network.subnets;
    this.secretsManagerEndpoint = addSecretsManagerEndpoint(network, network.vpc, network.subnets, config.endpointZones);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: this.vpc,
      description: 'perps-stats-db database: PostgreSQL from the functions and the rotation function only',
      allowAllOutbound: false,
    });
    const common: SharedDatabaseProps = {
      vpc: this.vpc,
      vpcSubnets: this.subnets,
      securityGroups: [this.securityGroup],
      credentials: rds.Credentials.fromGeneratedSecret(ADMIN_USER),
      storageEncrypted: true,
      // Protected: left out of the template, and turned on by the stack's last resource (see
      // DeletionProtection), so that a failed first deploy can still delete the database.
      // Not protected: false, written out, so switching it off also turns protection off.
      deletionProtection: config.deletionProtection ? undefined : false,
      port: POSTGRES_PORT,
    };
    this.rotationSecurityGroup = new ec2.SecurityGroup(this, 'RotationSecurityGroup', {
      vpc: this.vpc,
      description: 'perps-stats-db secret rotation function',
      allowAllOutbound: false,
    });
    this.allowFrom(this.rotationSecurityGroup);
    const created = config.kind === 'aurora' ? this.createAuroraCluster(config, common) : this.createInstance(config, common);
    if (!created.secret) throw new Error('the database was created without its secret');
    this.secret = created.secret;
    this.server = created.server;
    this.addRotation(created.secret, created.servers);
    const database = this.node.findChild(config.kind === 'aurora' ? 'Cluster' : 'Instance');
    Validations.of(database).acknowledge({
      id: 'AwsSolutions-RDS10',
      reason: config.deletionProtection
        ? "Deletion protection is turned on by the stack's last resource (DatabaseProtection, rds:Modify... DeletionProtection=true) once everything else was created, so that a failed first deploy can roll back; the template leaves the property out so that no later update turns it off."
        : 'Deletion protection turned off on purpose with -c deletionProtection=false, for a stack meant to be torn down (staging, tests).',
    });
  }

  allowFrom(peer: ec2.ISecurityGroup): void {
    this.securityGroup.connections.allowFrom(peer, ec2.Port.tcp(POSTGRES_PORT), 'PostgreSQL');
    this.secretsManagerEndpoint.connections.allowDefaultPortFrom(peer, 'Secrets Manager API');
  }

  private createInstance(config: NewDatabaseConfig, common: SharedDatabaseProps): CreatedDatabase {
    const engine = rds.DatabaseInstanceEngine.postgres({
      version: rds.PostgresEngineVersion.of(config.engineVersion, majorOf(config.engineVersion)),
    });
    const instance = new rds.DatabaseInstance(this, 'Instance', {
      ...common,
      engine,
      instanceType: new ec2.InstanceType(config.instanceType),
      databaseName: DATABASE_NAME,
      parameterGroup: new rds.ParameterGroup(this, 'Parameters', { engine, parameters: { 'rds.force_ssl': '1' } }),
      storageType: rds.StorageType.GP3,
      allocatedStorage: 20,
      // Storage autoscaling: a market-data store grows; running out of disk stops ingestion.
      maxAllocatedStorage: RDS_MAX_ALLOCATED_STORAGE_GIB,
      multiAz: config.multiAz,
      backupRetention: Duration.days(config.backupRetentionDays),
      autoMinorVersionUpgrade: true,
    });
    if (!config.multiAz) {
      Validations.of(instance).acknowledge({
        id: 'AwsSolutions-RDS3',
        reason:
          'Single-AZ by default: a standby doubles the instance cost, and this metrics store can wait out a point-in-time restore from its backups; -c multiAz=true adds the standby.',
      });
    }
    Validations.of(instance).acknowledge({
      id: 'AwsSolutions-RDS11',
      reason:
        'Port 5432 kept: the instance sits in isolated subnets behind a security group open only to the functions and the rotation function, and clients read the port from the secret.',
    });
    return { secret: instance.secret, servers: [instance.node.defaultChild as IDependable], server: { kind: 'instance', instance } };
  }

  private createAuroraCluster(config: NewDatabaseConfig, common: SharedDatabaseProps): CreatedDatabase {
    // Auto minor upgrades move the cluster on from the version it starts with.
    const engine = rds.DatabaseClusterEngine.auroraPostgres({
      version: rds.AuroraPostgresEngineVersion.of(config.engineVersion, majorOf(config.engineVersion)),
    });
    const cluster = new rds.DatabaseCluster(this, 'Cluster', {
      ...common,
      engine,
      writer: rds.ClusterInstance.serverlessV2('Writer', { autoMinorVersionUpgrade: true }),
      serverlessV2MinCapacity: config.minCapacity,
      serverlessV2MaxCapacity: config.maxCapacity,
      defaultDatabaseName: DATABASE_NAME,
      // On a cluster, this group is the cluster parameter group, where rds.force_ssl lives.
      parameterGroup: new rds.ParameterGroup(this, 'Parameters', { engine, parameters: { 'rds.force_ssl': '1' } }),
      backup: { retention: Duration.days(config.backupRetentionDays) },
    });
    Validations.of(cluster).acknowledge({
      id: 'AwsSolutions-RDS6',
      reason:
        'The functions authenticate with the rotated Secrets Manager password; IAM database tokens would need rds-db:connect wiring in every client.',
    });
    // The cluster alone has no server to log in to: its endpoint answers once the writer is up.
    return {
      secret: cluster.secret,
      servers: [cluster.node.defaultChild as IDependable, cluster.node.findChild('Writer')],
      server: { kind: 'cluster', cluster },
    };
  }

  /**
   * Hosted rotation in the isolated subnets: it needs the database port and the Secrets Manager
   * endpoint. Creating the schedule makes Secrets Manager test the rotation function at once
   * (its testSecret step logs in to the database), so the schedule waits for the database
   * servers, the security-group rules and the endpoint. The function gets a fixed name, so its
   * log group can be the stack's, with a retention.
   */
  private addRotation(secret: secretsmanager.ISecret, servers: IDependable[]): void {
    const functionName = `${Stack.of(this).stackName}-secret-rotation`;
    const logGroup = createLogGroup(this, 'RotationLogs', `/aws/lambda/${functionName}`);
    const schedule = secret.addRotationSchedule('Rotation', {
      hostedRotation: this.singleUserRotation(functionName),
      automaticallyAfter: Duration.days(30),
      // A rotation started by the deploy itself would race the migrate trigger's login.
      rotateImmediatelyOnUpdate: false,
    });
    // The security groups' subtrees hold their ingress and egress rules.
    schedule.node.addDependency(...servers, this.securityGroup, this.rotationSecurityGroup, this.secretsManagerEndpoint, logGroup);
  }

  /** A hosted single-user rotation function named `functionName`, in the isolated subnets, in the rotation group. */
  singleUserRotation(functionName: string): secretsmanager.HostedRotation {
    return secretsmanager.HostedRotation.postgreSqlSingleUser({
      functionName,
      vpc: this.vpc,
      vpcSubnets: this.subnets,
      securityGroups: [this.rotationSecurityGroup],
    });
  }
}

/** `18.4` -> `18`: names the parameter group family (postgres18, aurora-postgresql18). */
function majorOf(version: string): string {
  return version.split('.')[0] ?? version;
}

/**
 * A database that exists already, given by context: its secret, VPC, subnets and security
 * group. Imported by id (never looked up), so synth needs no AWS account.
 */
export class ExistingDatabase extends Construct implements DatabaseTarget {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly secret: secretsmanager.ISecret;
  readonly secretKey: kms.IKey | undefined;
  readonly secretsManagerEndpoint: ec2.InterfaceVpcEndpoint | undefined;
  private readonly securityGroup: ec2.ISecurityGroup;
  private readonly port: number;

  constructor(scope: Construct, id: string, config: ExistingDatabaseConfig) {
    super(scope, id);
    this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: config.vpcId, availabilityZones: config.availabilityZones });
    this.subnets = {
      subnets: config.subnetIds.map((subnetId, index) => {
        const subnet = ec2.Subnet.fromSubnetAttributes(this, `Subnet${index}`, {
          subnetId,
          availabilityZone: config.availabilityZones[index],
        });
        Validations.of(subnet).acknowledge({
          id: '@aws-cdk/aws-ec2:noSubnetRouteTableId',
          reason:
            'The stack adds no routes: it only places the functions (and optionally an endpoint) in these subnets, so no route table id is read.',
        });
        return subnet;
      }),
    };
    this.secret = secretsmanager.Secret.fromSecretCompleteArn(this, 'Secret', config.secretArn);
    this.secretKey = config.secretKmsKeyArn ? kms.Key.fromKeyArn(this, 'SecretKey', config.secretKmsKeyArn) : undefined;
    this.securityGroup = ec2.SecurityGroup.fromSecurityGroupId(this, 'SecurityGroup', config.securityGroupId);
    this.port = config.port;
    this.secretsManagerEndpoint = config.createSecretsManagerEndpoint
      ? addSecretsManagerEndpoint(this, this.vpc, this.subnets, config.endpointZones)
      : undefined;
  }

  allowFrom(peer: ec2.ISecurityGroup): void {
    this.securityGroup.connections.allowFrom(peer, ec2.Port.tcp(this.port), 'PostgreSQL from perps-stats-db');
    this.secretsManagerEndpoint?.connections.allowDefaultPortFrom(peer, 'Secrets Manager API');
  }
}

/** The database the context asks for. */
export function createDatabase(
  scope: Construct,
  id: string,
  config: NewDatabaseConfig | ExistingDatabaseConfig,
): DatabaseTarget & Construct {
  return config.kind === 'existing' ? new ExistingDatabase(scope, id, config) : new NewDatabase(scope, id, config);
}
