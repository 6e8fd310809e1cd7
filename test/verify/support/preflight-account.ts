/**
 * The account the preflight endpoint answers for, as each test sets it: what a real account's
 * APIs would report. The defaults are a paid account in eu-west-1 where a default deploy fits.
 */
export interface PreflightAccount {
  plan: { accountPlanType: string; accountPlanStatus: string; accountPlanRemainingCredits?: { amount: number; unit: string } };
  lambda: { ConcurrentExecutions: number; UnreservedConcurrentExecutions: number };
  /** RDS engine versions in the region; `isDefault` marks the default minor of its major. */
  engineVersions: { engine: string; version: string; isDefault?: boolean }[];
  orderable: { engine: string; version: string; instanceClass: string; storageType?: string; multiAz?: boolean }[];
  /** SSM parameters (the bootstrap version). */
  parameters: Map<string, string>;
  /** Service Quotas values applied to the account, by `service/code`; others answer NoSuchResourceException. */
  appliedQuotas: Map<string, number>;
  vpcs: string[];
  endpoints: { id: string; vpcId: string; type: 'Interface' | 'Gateway' | 'GatewayLoadBalancer'; state?: string }[];
  /** Operations (`GetServiceQuota`, `DescribeVpcs`, ...) answered with the service's access-denied error. */
  denied: Set<string>;
}

/** AWS's default values of the VPC quotas (what GetAWSDefaultServiceQuota answers). */
export const DEFAULT_QUOTAS: Record<string, number> = { 'vpc/L-F678F1CE': 5, 'vpc/L-29B6F2EB': 50, 'vpc/L-1B52E74A': 20 };

export function paidAccount(): PreflightAccount {
  const orderable = (engine: string, version: string, instanceClass: string) =>
    ['gp2', 'gp3'].map((storageType) => ({ engine, version, instanceClass, storageType, multiAz: true }));
  return {
    plan: { accountPlanType: 'PAID', accountPlanStatus: 'ACTIVE' },
    lambda: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 1000 },
    engineVersions: [
      { engine: 'postgres', version: '17.6', isDefault: true },
      { engine: 'postgres', version: '18.1' },
      { engine: 'postgres', version: '18.3', isDefault: true },
      { engine: 'aurora-postgresql', version: '18.4', isDefault: true },
    ],
    orderable: [
      ...orderable('postgres', '18.3', 'db.t4g.micro'),
      ...orderable('postgres', '18.3', 'db.m7g.large'),
      ...orderable('postgres', '18.3', 'db.m5.large'),
      { engine: 'aurora-postgresql', version: '18.4', instanceClass: 'db.serverless', storageType: 'aurora', multiAz: true },
    ],
    parameters: new Map([['/cdk-bootstrap/hnb659fds/version', '30']]),
    appliedQuotas: new Map(),
    vpcs: ['vpc-0a1b2c3d4e5f60718'],
    endpoints: [],
    denied: new Set(),
  };
}
