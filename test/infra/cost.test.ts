import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling';
import { billOf } from '../../infra/cost/bill';
import { costsSection } from '../../infra/cost/report';
import { cronTimes, dashboardMetrics, stackUsage, type TemplateJson } from '../../infra/cost/stack-usage';
import { synthesizeTemplate } from '../../infra/cost/synth';

// The default stack, synthesized once for the file (as the report does it: offline, no bundles).
const template = synthesizeTemplate();
const usage = stackUsage(template);
const bill = billOf(usage);
const line = (item: string) => bill.lines.find((l) => l.item.startsWith(item));

describe('the bill of the default stack', () => {
  it('keeps the overhead besides the database within $20 a month, CloudWatch within $12 of it', () => {
    expect(bill.overhead).toBeLessThanOrEqual(20);
    expect(bill.cloudwatch).toBeLessThanOrEqual(12);
    expect(bill.unpriced).toEqual([]);
    expect(bill.database).toBe(13.98);
  });

  it('counts what the template holds: 24 one-metric alarms, one dashboard within the free 50, one endpoint zone, a secret per login (master, maintenance, stats)', () => {
    expect(usage.alarms).toEqual({ count: 24, metrics: 24, highResolutionMetrics: 0, composite: 0 });
    expect(usage.dashboards).toEqual([49]);
    expect(line('dashboards')?.monthly).toBe(0);
    expect(usage.interfaceEndpointZones).toEqual([1]);
    expect(line('Secrets Manager interface endpoint')?.monthly).toBe(7.3);
    expect(usage.secrets).toBe(3);
    expect(usage.database).toMatchObject({ kind: 'rds', instanceClass: 'db.t4g.micro', storageGb: 20, storageType: 'gp3', multiAz: false });
    expect(usage.schedules.map((s) => [s.operation, s.times.length]).sort()).toEqual([
      ['archive', 1],
      ['partitions', 24],
      ['prune', 1],
      ['stats', 288],
      ['vacuum', 1],
    ]);
  });

  it('prices the stats metrics from what a report publishes: 13 every hour, 16 in 4 hours a day, for 7 exchanges', () => {
    expect(line('custom metrics: stats every run')).toMatchObject({ quantity: '13 metrics, 13 metric-months', monthly: 3.9 });
    expect(line('custom metrics: stats sizes')).toMatchObject({ quantity: '16 metrics, 2.67 metric-months', monthly: 0.8 });
    const twenty = billOf(
      usage,
      Array.from({ length: 20 }, (_, i) => `exchange${i}`),
    );
    expect(twenty.lines.find((l) => l.item.startsWith('custom metrics: stats every run'))?.monthly).toBe(((13 - 7 + 20) * 3) / 10);
  });

  it('counts the secrets, keys and metric-math alarms another change adds to the template', () => {
    const more: TemplateJson = JSON.parse(JSON.stringify(template));
    const resources = more.Resources ?? {};
    // Two more secrets on top of the three logins'; a metric-math alarm bills each metric in it.
    resources.MoreLogin = { Type: 'AWS::SecretsManager::Secret', Properties: {} };
    resources.OtherLogin = { Type: 'AWS::SecretsManager::Secret', Properties: {} };
    resources.Key = { Type: 'AWS::KMS::Key', Properties: {} };
    resources.Math = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: { Metrics: [{ Expression: 'MIN([a, b])' }, { MetricStat: { Period: 300 } }, { MetricStat: { Period: 300 } }] },
    };
    resources.Fast = { Type: 'AWS::CloudWatch::Alarm', Properties: { MetricName: 'X', Period: 10 } };
    const bigger = billOf(stackUsage(more));
    expect(bigger.lines.find((l) => l.item === 'secrets')).toMatchObject({ quantity: '5', monthly: 2 });
    expect(bigger.lines.find((l) => l.item === 'KMS keys')?.monthly).toBe(1);
    expect(bigger.lines.find((l) => l.item === 'alarms')).toMatchObject({ quantity: '26 alarms, 27 metrics, 0 composite', monthly: 2.9 });
    expect(bigger.overhead).toBeLessThanOrEqual(20);
  });
});

describe('reading a template', () => {
  it('reads the run times of a cron schedule', () => {
    expect(cronTimes('cron(0/5 * * * ? *)')).toHaveLength(288);
    expect(cronTimes('cron(45 * * * ? *)').map(([hour]) => hour)).toEqual(Array.from({ length: 24 }, (_, h) => h));
    expect(cronTimes('cron(20 1 * * ? *)')).toEqual([[1, 20]]);
    expect(cronTimes('cron(0,30 2,14 * * ? *)')).toEqual([
      [2, 0],
      [2, 30],
      [14, 0],
      [14, 30],
    ]);
    expect(() => cronTimes('rate(5 minutes)')).toThrow(/not a cron schedule: rate\(5 minutes\)/);
  });

  it('counts every metric line of a dashboard, not the math over them', () => {
    const body = {
      'Fn::Join': [
        '',
        [
          '{"widgets":[{"properties":{"metrics":[["NS","A","service","',
          { Ref: 'X' },
          '"],["NS","B"],[{"expression":"MIN([a])","id":"e"}]]}},{"properties":{}}]}',
        ],
      ],
    };
    expect(dashboardMetrics(body)).toBe(2);
  });
});

describe('docs/deploy.md "Costs"', () => {
  it('is the report of the default and Aurora stacks and of each priced key, as `npm run -s cost -- --docs` prints it', () => {
    const docs = readFileSync(join(PROJECT_ROOT, 'docs/deploy.md'), 'utf8');
    const block = /<!-- npm run -s cost -- --docs -->\n([\s\S]*?)\n<!-- end of npm run cost -->/.exec(docs)?.[1];
    expect(block, 'the markers around the report in docs/deploy.md').toBeDefined();
    expect(block).toBe(costsSection());
  }, 180_000);
});

describe('npm run cost', () => {
  const run = promisify(execFile);
  it('refuses a bad flag or context key with what it must be, exit code 2', async () => {
    const cost = (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'scripts/cost.ts'), ...args], { cwd: PROJECT_ROOT }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
      );
    const exchanges = await cost('--exchanges', '0');
    expect(exchanges).toEqual({ code: 2, stderr: expect.stringContaining('error: --exchanges 0: must be a whole number from 1 to 1000') });
    const context = await cost('-c', 'secretsManagerEndpointZones=3');
    expect(context).toEqual({ code: 2, stderr: expect.stringContaining('secretsManagerEndpointZones: must be 1 or 2') });
  }, 120_000);
});
