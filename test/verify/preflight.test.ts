import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling';
import { runVerify } from '../../infra/verify/cli';
import { type PreflightAws, usePreflightAws } from './support/preflight-aws';
import { queryParams } from './support/query-protocol';

let aws: PreflightAws;

/** Runs `npm run verify -- --preflight ...` in `cwd` (default: this project, with its cdk.json). */
async function preflight(argv: string[], cwd = PROJECT_ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  const collect = (into: string[]) => new Writable({ write: (chunk, _encoding, done) => done(void into.push(String(chunk))) });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runVerify(['--preflight', ...argv], { stdout: collect(stdout), stderr: collect(stderr), cwd });
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}

/** The printed line of a step and the advice under it: `failed  plan        ...` + `what to do: ...`. */
function step(output: string, name: string): string {
  const lines = output.split('\n');
  const at = lines.findIndex((text) => text.slice(8).startsWith(name.padEnd(12)));
  if (at < 0) return '';
  const end = lines.findIndex((text, i) => i > at && !text.startsWith(' '.repeat(20)));
  return lines.slice(at, end < 0 ? undefined : end).join('\n');
}

/** A project folder with this cdk.json. */
function projectWith(cdkJson: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'preflight-project-'));
  writeFileSync(join(dir, 'cdk.json'), JSON.stringify(cdkJson));
  return dir;
}

/** The RDS calls made, as `Action Engine EngineVersion DBInstanceClass`. */
const rdsCalls = () =>
  aws.services.requests
    .map((request) => queryParams(request))
    .filter((params) => params.get('Version') === '2014-10-31')
    .map((params) =>
      ['Action', 'Engine', 'EngineVersion', 'DefaultOnly', 'DBInstanceClass'].map((key) => params.get(key) ?? '-').join(' '),
    );

beforeAll(async () => {
  aws = await usePreflightAws();
});
beforeEach(() => aws.reset());
afterAll(async () => {
  await aws.release();
});

describe('npm run verify -- --preflight against local endpoints, with the real SDK clients', () => {
  it('passes a paid account where a default deploy fits: six steps ok, exit 0', async () => {
    const { code, stdout, stderr } = await preflight([]);
    expect(stderr).toBe('');
    expect(stdout).toContain('preflight of a deploy with database=rds to eu-west-1');
    expect(step(stdout, 'plan')).toMatch(/^ok {6}plan {8}PAID plan \(ACTIVE\): no Free plan limits$/);
    expect(step(stdout, 'concurrency')).toMatch(/^ok .*quota 1000 concurrent executions, 1000 unreserved; reservedConcurrency off/);
    expect(step(stdout, 'database')).toMatch(/^ok .*postgres 18\.3 \(the region's default 18\) on db\.t4g\.micro: orderable in eu-west-1$/);
    expect(step(stdout, 'bootstrap')).toMatch(
      /^ok .*CDKToolkit UPDATE_COMPLETE, version 30 \(\/cdk-bootstrap\/hnb659fds\/version; 6 or newer needed\)$/,
    );
    expect(step(stdout, 'vpcs')).toMatch(/^ok .*VPCs per Region 5: 1 in eu-west-1, the stack adds 1$/);
    expect(step(stdout, 'endpoints')).toMatch(
      /^ok .*Interface VPC endpoints per VPC 50: 0 in its new VPC, the stack adds 1; Gateway VPC endpoints per Region 20: 0 in eu-west-1, the stack adds 1$/,
    );
    expect(stdout).toContain('all 6 steps ok');
    expect(code).toBe(0);
    // RDS was asked for the default minor of 18, then for that version on the stack's class.
    expect(rdsCalls()).toEqual([
      'DescribeDBEngineVersions postgres 18 true -',
      'DescribeOrderableDBInstanceOptions postgres 18.3 - db.t4g.micro',
    ]);
    // The Free Tier call is signed for its one endpoint's region and service, with the same credentials.
    const planCall = aws.services.requests.find((request) => request.headers['x-amz-target'] === 'AWSFreeTierService.GetAccountPlanState');
    expect(planCall?.headers.authorization).toMatch(/Credential=AKIDLOCALTEST\/\d{8}\/us-east-1\/freetier\/aws4_request/);
  });

  it('fails the plan on a Free account: the 7-day backup retention RDS refuses there, Aurora; fits with backupRetentionDays=1', async () => {
    aws.account.plan = {
      accountPlanType: 'FREE',
      accountPlanStatus: 'ACTIVE',
      accountPlanRemainingCredits: { amount: 187.5, unit: 'USD' },
    };
    const rds = await preflight([]);
    expect(step(rds.stdout, 'plan')).toMatch(
      /^failed {2}plan {8}FREE plan \(ACTIVE, 187\.5 USD credits left\): RDS refuses backupRetentionDays=7 on the Free plan \(FreeTierRestrictionError; 1 day at most\)\n {20}what to do: upgrade the account to the Paid plan .*, or deploy with -c backupRetentionDays=1$/,
    );
    expect(rds.stdout).toContain('1 of 6 steps failed');
    expect(rds.code).toBe(1);
    const aurora = await preflight(['-c', 'database=aurora']);
    expect(step(aurora.stdout, 'plan')).toMatch(
      /Aurora cannot be created by CloudFormation on the Free plan\n.*-c database=rds -c backupRetentionDays=1$/,
    );
    const fits = await preflight(['-c', 'backupRetentionDays=1']);
    expect(step(fits.stdout, 'plan')).toMatch(/^ok .*FREE plan \(ACTIVE, 187\.5 USD credits left\): this configuration fits it$/);
    expect(fits.code).toBe(0);
    // Outside the aws partition there is no Free plan, and the Free Tier API is not asked.
    aws.services.requests.length = 0;
    const china = await preflight(['--region', 'cn-north-1']);
    expect(step(china.stdout, 'plan')).toMatch(/^ok .*cn-north-1 has no Free plan \(aws partition only\)$/);
    expect(aws.services.requests.filter((request) => request.headers['x-amz-target']?.includes('FreeTier'))).toHaveLength(0);
  });

  it('fails reservedConcurrency=true on an account with a quota of 10, saying what to raise it to', async () => {
    aws.account.lambda = { ConcurrentExecutions: 10, UnreservedConcurrentExecutions: 10 };
    const off = await preflight([]);
    expect(step(off.stdout, 'concurrency')).toMatch(
      /^ok .*quota 10 concurrent executions, 10 unreserved; reservedConcurrency off: the stack reserves none$/,
    );
    const on = await preflight(['-c', 'reservedConcurrency=true']);
    expect(step(on.stdout, 'concurrency')).toMatch(
      /^failed .*reservedConcurrency=true reserves 6, leaving 4, below the 10 Lambda keeps unreserved.*\n.*deploy without -c reservedConcurrency=true .*lambda L-B99A9384\) to 106 or more$/,
    );
    expect(on.code).toBe(1);
    aws.account.lambda = { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 900 };
    const room = await preflight(['-c', 'reservedConcurrency=true']);
    expect(step(room.stdout, 'concurrency')).toMatch(
      /^ok .*900 unreserved; reservedConcurrency=true reserves 6, leaving 894 \(Lambda keeps 100\)$/,
    );
  });

  it('fails an instance class the region does not offer (db.t4g.micro in ca-west-1), naming the Graviton classes it does', async () => {
    aws.account.orderable = aws.account.orderable.filter((option) => option.instanceClass !== 'db.t4g.micro');
    const { code, stdout } = await preflight(['--region', 'ca-west-1']);
    expect(step(stdout, 'database')).toMatch(
      /^failed .*postgres 18\.3 \(the region's default 18\) on db\.t4g\.micro: db\.t4g\.micro is not offered with it in ca-west-1\n.*what to do: pass -c instanceType= one of the Graviton classes offered there: m7g\.large$/,
    );
    expect(code).toBe(1);
    const m7g = await preflight(['--region', 'ca-west-1', '-c', 'instanceType=m7g.large', '-c', 'multiAz=true']);
    expect(step(m7g.stdout, 'database')).toMatch(/^ok .*on db\.m7g\.large: orderable in ca-west-1$/);
    for (const option of aws.account.orderable) option.multiAz = false;
    const single = await preflight(['--region', 'ca-west-1', '-c', 'instanceType=m7g.large', '-c', 'multiAz=true']);
    expect(step(single.stdout, 'database')).toMatch(
      /^failed .*on db\.m7g\.large: Multi-AZ is not offered with it in ca-west-1\n.*what to do: pass another -c instanceType, or -c multiAz=false$/,
    );
  });

  it('fails an engine version the region does not offer, and Aurora on a version without db.serverless', async () => {
    const minor = await preflight(['-c', 'engineVersion=18.2']);
    expect(step(minor.stdout, 'database')).toMatch(
      /^failed .*postgres 18\.2 is not offered in eu-west-1\n.*--engine postgres --region eu-west-1/,
    );
    aws.account.engineVersions.push({ engine: 'aurora-postgresql', version: '17.4' });
    const aurora = await preflight(['-c', 'database=aurora', '-c', 'engineVersion=17.4']);
    expect(step(aurora.stdout, 'database')).toMatch(
      /^failed .*aurora-postgresql 17\.4 on db\.serverless: db\.serverless is not offered with it in eu-west-1\n.*what to do: pick a version with Serverless v2 there/,
    );
    expect(rdsCalls().slice(-2)).toEqual([
      'DescribeDBEngineVersions aurora-postgresql 17.4 - -',
      'DescribeOrderableDBInstanceOptions aurora-postgresql 17.4 - db.serverless',
    ]);
  });

  it('fails an account that is not bootstrapped, or bootstrapped too long ago', async () => {
    aws.cloudformation.stacks.clear();
    const none = await preflight([]);
    expect(step(none.stdout, 'bootstrap')).toMatch(
      /^failed .*no CDKToolkit stack: .*not bootstrapped for CDK\n.*what to do: npx cdk bootstrap$/,
    );
    aws.reset();
    aws.account.parameters.set('/cdk-bootstrap/hnb659fds/version', '5');
    const old = await preflight([]);
    expect(step(old.stdout, 'bootstrap')).toMatch(
      /^failed .*\/cdk-bootstrap\/hnb659fds\/version is 5: the deploy needs bootstrap version 6 or newer/,
    );
  });

  it("reads cdk.json's context (database, qualifier, toolkit stack name), with -c winning over it", async () => {
    const dir = projectWith({
      toolkitStackName: 'OurToolkit',
      context: { database: 'aurora', engineVersion: '18.4', '@aws-cdk/core:bootstrapQualifier': 'perps1', backupRetentionDays: 3 },
    });
    aws.cloudformation.stacks.set('OurToolkit', { StackName: 'OurToolkit', StackStatus: 'CREATE_COMPLETE', Outputs: {} });
    aws.account.parameters.set('/cdk-bootstrap/perps1/version', '29');
    const { stdout, code } = await preflight(['-c', 'backupRetentionDays=14'], dir);
    expect(stdout).toContain('preflight of a deploy with database=aurora to eu-west-1');
    expect(step(stdout, 'database')).toMatch(/^ok .*aurora-postgresql 18\.4 on db\.serverless: orderable in eu-west-1$/);
    expect(step(stdout, 'bootstrap')).toMatch(/^ok .*OurToolkit CREATE_COMPLETE, version 29 \(\/cdk-bootstrap\/perps1\/version;/);
    expect(code).toBe(0);
    aws.account.plan = { accountPlanType: 'FREE', accountPlanStatus: 'ACTIVE' };
    aws.account.parameters.delete('/cdk-bootstrap/perps1/version');
    const free = await preflight(['-c', 'database=rds'], dir);
    expect(step(free.stdout, 'plan')).toMatch(/RDS refuses backupRetentionDays=3 on the Free plan/);
    expect(step(free.stdout, 'bootstrap')).toMatch(
      /no \/cdk-bootstrap\/perps1\/version.*\n.*npx cdk bootstrap --qualifier perps1 \(it upgrades/,
    );
  });

  it('fails the VPC quota when the region has 5 VPCs, and an existing VPC whose interface endpoints are at the quota', async () => {
    aws.account.vpcs = ['vpc-1', 'vpc-2', 'vpc-3', 'vpc-4', 'vpc-5'].map((id) => `${id}a1b2c3d4`);
    const full = await preflight([]);
    expect(step(full.stdout, 'vpcs')).toMatch(/^failed .*VPCs per Region 5: 5 in eu-west-1, the stack adds 1\n.*--quota-code L-F678F1CE/);
    aws.account.appliedQuotas.set('vpc/L-F678F1CE', 10);
    expect(step((await preflight([])).stdout, 'vpcs')).toMatch(/^ok .*VPCs per Region 10: 5 in eu-west-1/);

    const vpcId = 'vpc-0123456789abcdef0';
    aws.account.vpcs.push(vpcId);
    aws.account.endpoints = Array.from({ length: 50 }, (_, i) => ({ id: `vpce-${i}`, vpcId, type: 'Interface' as const }));
    aws.account.endpoints.push({ id: 'vpce-gone', vpcId, type: 'Interface', state: 'deleted' });
    const existing = [
      ...[
        'database=existing',
        `existingVpcId=${vpcId}`,
        'existingSubnetIds=subnet-0123456789abcdef0',
        'existingAvailabilityZones=eu-west-1a',
      ],
      ...['existingSecurityGroupId=sg-0123456789abcdef0', 'existingCreateSecretsManagerEndpoint=true'],
      'existingSecretArn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:perps-db-AbCdEf',
    ].flatMap((pair) => ['-c', pair]);
    const { stdout, code } = await preflight(existing);
    expect(step(stdout, 'vpcs')).toMatch(/^ok .*existingVpcId vpc-0123456789abcdef0 is in eu-west-1$/);
    expect(step(stdout, 'endpoints')).toMatch(
      /^failed .*Interface VPC endpoints per VPC 50: 50 in vpc-0123456789abcdef0, the stack adds 1\n.*--quota-code L-29B6F2EB/,
    );
    expect(step(stdout, 'database')).toMatch(/^ok .*database=existing: the stack creates none$/);
    expect(code).toBe(1);
  });

  it('fails only the steps whose calls are refused, each naming the permission; exit 1, no crash', async () => {
    aws.account.denied = new Set(['GetAccountPlanState', 'GetServiceQuota', 'DescribeOrderableDBInstanceOptions', 'GetAccountSettings']);
    const { code, stdout, stderr } = await preflight([]);
    expect(stderr).toBe('');
    expect(step(stdout, 'plan')).toMatch(/^failed .*AccessDeniedException: .*\n.*your credentials need freetier:GetAccountPlanState$/);
    expect(step(stdout, 'concurrency')).toMatch(/^failed .*AccessDeniedException.*\n.*lambda:GetAccountSettings$/);
    expect(step(stdout, 'database')).toMatch(
      /^failed .*AccessDenied: .*\n.*rds:DescribeDBEngineVersions and rds:DescribeOrderableDBInstanceOptions$/,
    );
    expect(step(stdout, 'vpcs')).toMatch(/^failed .*AccessDeniedException.*\n.*servicequotas:GetServiceQuota/);
    expect(step(stdout, 'bootstrap')).toMatch(/^ok /);
    expect(stdout).toContain('5 of 6 steps failed');
    expect(code).toBe(1);
  });
});

describe('preflight exit codes before any step', () => {
  it('exits 2 on bad context or flags, naming each problem, before any AWS call', async () => {
    const bad = await preflight(['-c', 'instanceType=m5.large', '-c', 'backupRetentionDays=90']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/instanceType: must be a Graviton instance type/);
    expect(bad.stderr).toMatch(/backupRetentionDays: must be a whole number from 1 to 35/);
    expect((await preflight(['-c', 'noequals'])).stderr).toMatch(/-c noequals: must be key=value/);
    expect((await preflight(['--stack', 'PerpsStatsDb'])).stderr).toMatch(/--stack is not used with --preflight/);
    const broken = projectWith({});
    writeFileSync(join(broken, 'cdk.json'), '{ not json');
    expect((await preflight([], broken)).stderr).toMatch(/cdk\.json is not valid JSON/);
    expect(aws.services.requests).toHaveLength(0);
    expect(aws.cloudformation.requests).toHaveLength(0);
    const contextWithoutPreflight = await runVerify(['--stack', 'PerpsStatsDb', '-c', 'archive=false'], {
      stdout: new Writable({ write: (_c, _e, done) => done() }),
      stderr: new Writable({ write: (_c, _e, done) => done() }),
    });
    expect(contextWithoutPreflight).toBe(2);
  });

  it('exits 3 when AWS cannot be reached', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_FREETIER;
    process.env.AWS_ENDPOINT_URL_FREETIER = 'http://127.0.0.1:9';
    try {
      const { code, stderr } = await preflight([]);
      expect(code).toBe(3);
      expect(stderr).toMatch(/cannot reach the Free Tier API with these credentials/);
    } finally {
      process.env.AWS_ENDPOINT_URL_FREETIER = saved;
    }
  });
});
