import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { EndpointZones } from '../config';
import { createLogGroup } from './log-groups';

/**
 * A VPC with isolated subnets only, in two availability zones: no NAT gateway and no internet
 * gateway. Nothing in it reaches the internet; the one AWS API the functions need, Secrets
 * Manager, is reached through an interface endpoint (see addSecretsManagerEndpoint).
 */
export class IsolatedNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  readonly subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    });
    // Rejected traffic only: that is what explains a connection the security groups refuse,
    // and it keeps the flow-log volume (billed per GB) near zero.
    const flowLogs = createLogGroup(this, 'FlowLogs');
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
  }
}

/**
 * The Secrets Manager interface endpoint (private DNS), closed by default: callers are let in
 * one security group at a time with `endpoint.connections.allowDefaultPortFrom(...)`. It sits in
 * the first `zones` of the subnets' availability zones, $0.01 an hour each: its private DNS name
 * answers from every zone of the VPC, so one zone serves them all (while that zone is up).
 */
export function addSecretsManagerEndpoint(
  scope: Construct,
  vpc: ec2.IVpc,
  subnets: ec2.SubnetSelection,
  zones: EndpointZones,
): ec2.InterfaceVpcEndpoint {
  return new ec2.InterfaceVpcEndpoint(scope, 'SecretsManagerEndpoint', {
    vpc,
    service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    subnets: { subnets: vpc.selectSubnets({ ...subnets, onePerAz: true }).subnets.slice(0, zones) },
    privateDnsEnabled: true,
    open: false,
  });
}
