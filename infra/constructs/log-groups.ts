import { CfnResource, CustomResourceProviderBase, RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** How long every log group of the stack keeps its events. */
export const LOG_RETENTION = logs.RetentionDays.ONE_MONTH;

/**
 * A log group the stack owns: kept LOG_RETENTION, deleted with the stack. Give `logGroupName`
 * for a function whose name is fixed but that the stack does not create itself (Lambda would
 * otherwise create `/aws/lambda/<name>` on the first run, with no expiry).
 */
export function createLogGroup(scope: Construct, id: string, logGroupName?: string): logs.LogGroup {
  return new logs.LogGroup(scope, id, { retention: LOG_RETENTION, removalPolicy: RemovalPolicy.DESTROY, logGroupName });
}

/**
 * Gives the functions CDK adds on its own (the Trigger provider; with the recommended flags, the
 * provider that empties the VPC's default security group) a log group of the stack, through
 * Lambda's LoggingConfig: left alone, each writes to a log group Lambda creates and never
 * expires. Call it last in the stack, when every provider exists.
 */
export function keepProviderLogs(scope: Construct): void {
  const providers = scope.node.findAll().filter((node): node is CustomResourceProviderBase => node instanceof CustomResourceProviderBase);
  for (const provider of providers) {
    const handler = provider.node.findChild('Handler');
    if (!(handler instanceof CfnResource) || handler.cfnResourceType !== 'AWS::Lambda::Function') {
      throw new Error(`${provider.node.path}: no Lambda function "Handler" (has aws-cdk-lib changed its custom resource providers?)`);
    }
    handler.addPropertyOverride('LoggingConfig.LogGroup', createLogGroup(provider, 'Logs').logGroupName);
  }
}
