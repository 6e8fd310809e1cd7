import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';

export interface DeployMigrationsProps {
  readonly migrate: lambda.Function;
  readonly partitions: lambda.Function;
  /**
   * Everything the functions need before they can run: the database, its secret and secret
   * attachment, the Secrets Manager endpoint and the security group rules.
   */
  readonly after: Construct[];
}

/**
 * Runs `migrate`, then `partitions`, synchronously during the deployment, whenever a function
 * changes (and on the first deploy). A fresh stack ends with the schema and today's partitions
 * in place; an invocation that fails (a MigrationError, an unreachable database) fails the
 * deployment, and CloudFormation rolls it back. Each trigger waits as long as its function may run.
 */
export class DeployMigrations extends Construct {
  readonly migrate: triggers.Trigger;
  readonly partitions: triggers.Trigger;

  constructor(scope: Construct, id: string, props: DeployMigrationsProps) {
    super(scope, id);
    this.migrate = new triggers.Trigger(this, 'Migrate', {
      handler: props.migrate,
      timeout: props.migrate.timeout,
      invocationType: triggers.InvocationType.REQUEST_RESPONSE,
      executeAfter: props.after,
    });
    this.partitions = new triggers.Trigger(this, 'Partitions', {
      handler: props.partitions,
      timeout: props.partitions.timeout,
      invocationType: triggers.InvocationType.REQUEST_RESPONSE,
      executeAfter: [...props.after, this.migrate],
    });
  }
}
