import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as rds from 'aws-cdk-lib/aws-rds';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IConstruct } from 'constructs';
import { acknowledgeManagedPolicies } from './functions';
import { createLogGroup } from './log-groups';

/** The database server whose deletion protection is turned on: an RDS instance or an Aurora cluster. */
export type ProtectedServer = { kind: 'instance'; instance: rds.DatabaseInstance } | { kind: 'cluster'; cluster: rds.DatabaseCluster };

export interface DeletionProtectionProps {
  readonly server: ProtectedServer;
  /** Everything else of the stack: protection turns on only once all of it has been created. */
  readonly after: IConstruct[];
}

/**
 * Turns on the deletion protection of a new database as the last step of a deploy
 * (`rds:ModifyDBInstance` or `rds:ModifyDBCluster` with `DeletionProtection: true`), instead of
 * creating the database protected. RDS refuses DeleteDBInstance (and DeleteDBCluster) while
 * protection is on, so a first deploy that created the database protected and then failed on a
 * later resource (a trigger, the rotation schedule, a timeout) could not roll back:
 * ROLLBACK_FAILED, the VPC and secret left behind. Created last, protection is on only once
 * everything else exists; a failed first deploy deletes the unprotected database (with its final
 * snapshot, RemovalPolicy SNAPSHOT).
 *
 * It never turns protection off: there is no onDelete, so deleting the stack (or removing this
 * resource with `-c deletionProtection=false`, which writes `DeletionProtection: false` on the
 * database itself) is what may, and a stack that ever succeeded still refuses to delete its
 * database until an operator turns protection off by hand. The database resource leaves
 * `DeletionProtection` out of its properties: CloudFormation's RDS handlers send the template's
 * value with every ModifyDBInstance/ModifyDBCluster they make, so a `false` there would turn
 * protection off again on the next update that touches the database; an absent one is not sent.
 */
export class DeletionProtection extends Construct {
  readonly resource: cr.AwsCustomResource;

  constructor(scope: Construct, id: string, props: DeletionProtectionProps) {
    super(scope, id);
    const { server } = props;
    const call: cr.AwsSdkCall =
      server.kind === 'instance'
        ? {
            service: 'RDS',
            action: 'ModifyDBInstance',
            parameters: { DBInstanceIdentifier: server.instance.instanceIdentifier, DeletionProtection: true, ApplyImmediately: true },
            physicalResourceId: cr.PhysicalResourceId.of(`${server.instance.instanceIdentifier}-deletion-protection`),
          }
        : {
            service: 'RDS',
            action: 'ModifyDBCluster',
            parameters: { DBClusterIdentifier: server.cluster.clusterIdentifier, DeletionProtection: true, ApplyImmediately: true },
            physicalResourceId: cr.PhysicalResourceId.of(`${server.cluster.clusterIdentifier}-deletion-protection`),
          };
    const resourceArn = server.kind === 'instance' ? server.instance.instanceArn : server.cluster.clusterArn;
    this.resource = new cr.AwsCustomResource(this, 'Resource', {
      resourceType: 'Custom::DatabaseDeletionProtection',
      // Create and Update only. A rollback's Update calls it again with the previous
      // properties: protection stays on either way.
      onCreate: call,
      onUpdate: call,
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: [`rds:${call.action}`], resources: [resourceArn] }),
      ]),
      // The SDK of the Lambda runtime has ModifyDBInstance/ModifyDBCluster; no download at deploy time.
      installLatestAwsSdk: false,
      logGroup: createLogGroup(this, 'Logs'),
    });
    this.resource.node.addDependency(...props.after);
    acknowledgeProviderRole(this);
  }
}

/** The role of CDK's AwsCustomResource provider function, a singleton at the stack's root, has the Lambda logging policy. */
function acknowledgeProviderRole(scope: Construct): void {
  const id = `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll('-', '')}`;
  const provider = Stack.of(scope).node.tryFindChild(id);
  if (!(provider instanceof lambda.Function)) {
    throw new Error(`${Stack.of(scope).stackName}/${id}: no AwsCustomResource provider function (has aws-cdk-lib renamed it?)`);
  }
  acknowledgeManagedPolicies(provider, false);
}
