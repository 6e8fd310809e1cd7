import { DescribeVpcsCommand, type EC2Client, type Filter, paginateDescribeVpcEndpoints, paginateDescribeVpcs } from '@aws-sdk/client-ec2';
import { GetAWSDefaultServiceQuotaCommand, GetServiceQuotaCommand, type ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import type { StackConfig } from '../config';
import { failedAwsStep, type StepResult } from './step';

/** The VPC quotas the stack can run into (Service Quotas, service code vpc). */
export const VPC_QUOTAS = {
  vpcsPerRegion: { code: 'L-F678F1CE', name: 'VPCs per Region' },
  interfaceEndpointsPerVpc: { code: 'L-29B6F2EB', name: 'Interface VPC endpoints per VPC' },
  gatewayEndpointsPerRegion: { code: 'L-1B52E74A', name: 'Gateway VPC endpoints per Region' },
} as const;
type Quota = (typeof VPC_QUOTAS)[keyof typeof VPC_QUOTAS];

const PERMISSIONS = 'servicequotas:GetServiceQuota, servicequotas:GetAWSDefaultServiceQuota, ec2:DescribeVpcs and ec2:DescribeVpcEndpoints';

export interface NetworkClients {
  ec2: EC2Client;
  quotas: ServiceQuotasClient;
}

/** The quota's applied value, else AWS's default (GetServiceQuota knows only quotas that were ever applied). */
async function quotaValue(quotas: ServiceQuotasClient, quota: Quota): Promise<number> {
  const ids = { ServiceCode: 'vpc', QuotaCode: quota.code };
  try {
    return (await quotas.send(new GetServiceQuotaCommand(ids))).Quota?.Value ?? 0;
  } catch (error) {
    if ((error as Error).name !== 'NoSuchResourceException') throw error;
    return (await quotas.send(new GetAWSDefaultServiceQuotaCommand(ids))).Quota?.Value ?? 0;
  }
}

async function countVpcs(ec2: EC2Client): Promise<number> {
  let count = 0;
  for await (const page of paginateDescribeVpcs({ client: ec2 }, {})) count += page.Vpcs?.length ?? 0;
  return count;
}

/** Endpoints that count against a quota (a deleted one no longer does). */
async function countEndpoints(ec2: EC2Client, filters: Filter[]): Promise<number> {
  let count = 0;
  for await (const page of paginateDescribeVpcEndpoints({ client: ec2 }, { Filters: filters })) {
    count += (page.VpcEndpoints ?? []).filter((endpoint) => !/^deleted$/i.test(endpoint.State ?? '')).length;
  }
  return count;
}

/** One quota against what exists and what the stack adds; a line of the step's detail, or a problem. */
async function fits(clients: NetworkClients, quota: Quota, where: string, existing: Promise<number>, adds: number) {
  const [limit, count] = await Promise.all([quotaValue(clients.quotas, quota), existing]);
  const line = `${quota.name} ${limit}: ${count} ${where}, the stack adds ${adds}`;
  return { line, ok: count + adds <= limit, code: quota.code };
}

/** A new database gets a new VPC: room for it under VPCs per Region. An existing one: its VPC is there. */
export async function checkVpcs(clients: NetworkClients, config: StackConfig, region: string): Promise<StepResult> {
  try {
    const database = config.database;
    if (database.kind === 'existing') {
      const { Vpcs } = await clients.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'vpc-id', Values: [database.vpcId] }] }));
      if ((Vpcs ?? []).length > 0) return { step: 'vpcs', ok: true, detail: `existingVpcId ${database.vpcId} is in ${region}` };
      return {
        step: 'vpcs',
        ok: false,
        detail: `existingVpcId ${database.vpcId} is not in ${region}`,
        todo: 'check -c existingVpcId and the region',
      };
    }
    const result = await fits(clients, VPC_QUOTAS.vpcsPerRegion, `in ${region}`, countVpcs(clients.ec2), 1);
    if (result.ok) return { step: 'vpcs', ok: true, detail: result.line };
    return { step: 'vpcs', ok: false, detail: result.line, todo: raise(result.code, region, 'or delete a VPC you no longer use') };
  } catch (error) {
    return failedAwsStep('vpcs', error, 'EC2 or Service Quotas', PERMISSIONS);
  }
}

function raise(code: string, region: string, otherwise: string): string {
  return `request an increase of vpc ${code} (aws service-quotas request-service-quota-increase --service-code vpc --quota-code ${code} --desired-value N --region ${region}), ${otherwise}`;
}

/**
 * The endpoints the stack creates: the Secrets Manager interface endpoint (a new VPC's, or the
 * existing VPC's with existingCreateSecretsManagerEndpoint) and, with archiving, an S3 gateway
 * endpoint (a new VPC's, or on existingS3EndpointRouteTableIds).
 */
export async function checkEndpoints(clients: NetworkClients, config: StackConfig, region: string): Promise<StepResult> {
  const database = config.database;
  const existing = database.kind === 'existing';
  const interfaceInVpc = existing ? database.createSecretsManagerEndpoint : true;
  const gateway = config.archive !== undefined && (!existing || database.s3EndpointRouteTableIds.length > 0);
  if (!interfaceInVpc && !gateway) return { step: 'endpoints', ok: true, detail: 'the stack creates no VPC endpoint' };
  try {
    const checks = [];
    if (interfaceInVpc) {
      const count = existing
        ? countEndpoints(clients.ec2, [
            { Name: 'vpc-id', Values: [database.vpcId] },
            { Name: 'vpc-endpoint-type', Values: ['Interface', 'GatewayLoadBalancer'] },
          ])
        : Promise.resolve(0);
      checks.push(await fits(clients, VPC_QUOTAS.interfaceEndpointsPerVpc, existing ? `in ${database.vpcId}` : 'in its new VPC', count, 1));
    }
    if (gateway) {
      const count = countEndpoints(clients.ec2, [{ Name: 'vpc-endpoint-type', Values: ['Gateway'] }]);
      checks.push(await fits(clients, VPC_QUOTAS.gatewayEndpointsPerRegion, `in ${region}`, count, 1));
    }
    const detail = checks.map((check) => check.line).join('; ');
    const full = checks.filter((check) => !check.ok);
    if (full.length === 0) return { step: 'endpoints', ok: true, detail };
    return {
      step: 'endpoints',
      ok: false,
      detail,
      todo: full.map((check) => raise(check.code, region, 'or delete an endpoint you no longer use')).join('\n'),
    };
  } catch (error) {
    return failedAwsStep('endpoints', error, 'EC2 or Service Quotas', PERMISSIONS);
  }
}
