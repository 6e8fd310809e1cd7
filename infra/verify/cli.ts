import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SNSClient } from '@aws-sdk/client-sns';
import { InputError, PerpsDbError } from '../../functions/shared/errors';
import { checkArchive, checkPartitions, checkPrune, checkStats, checkVacuum } from './function-steps';
import { checkAlarms, checkMetrics, sendTestNotification } from './monitoring-steps';
import { createPreflightClients, type PreflightClients, resolveRegion, runPreflight } from './preflight';
import { readDeploySettings } from './preflight-context';
import { type DeployedStack, readStack } from './stack-step';
import { printStep, type StepResult, summarize } from './step';

export const USAGE = `perps-stats-db verify: prove a deployed stack works, with your AWS credentials

Usage: npm run verify -- --stack NAME [--region REGION] [--test-alarm]
       npm run verify -- --preflight [--region REGION] [-c key=value ...]

  --stack NAME       the CloudFormation stack (PerpsStatsDb unless you renamed it)
  --region REGION    its region (default: AWS_REGION or your profile's)
  --test-alarm       also publish a test notification to the alarm topic
  --preflight        before a deploy: what it would run into, for the settings of cdk.json,
                     cdk.context.json and the -c pairs you would pass to cdk deploy

Steps: the stack's status and outputs; stats invoked (read-only) and its report checked;
partitions checked with a Lambda dry run (nothing runs); prune, vacuum and archive invoked as dry runs;
the stats metrics in CloudWatch in the last 15 minutes; the stack's alarms in ALARM.
Preflight steps: the account plan (Free plan limits), Lambda concurrency against
reservedConcurrency, the engine version and instance class on offer in the region, the CDK
bootstrap, the VPC and endpoint quotas.
Exit codes: 0 every step ok, 1 a step failed, 2 bad flags, bad context or no such stack,
3 AWS unreachable or the credentials refused.`;

/** The four SDK clients the steps take. */
export interface AwsClients {
  cloudformation: CloudFormationClient;
  lambda: LambdaClient;
  cloudwatch: CloudWatchClient;
  sns: SNSClient;
}

/** Real SDK v3 clients: credentials, region and endpoints (AWS_ENDPOINT_URL_<SERVICE>) from the usual chain. */
export function createAwsClients(region: string | undefined): AwsClients {
  const config = region ? { region } : {};
  return {
    cloudformation: new CloudFormationClient(config),
    lambda: new LambdaClient(config),
    cloudwatch: new CloudWatchClient(config),
    sns: new SNSClient(config),
  };
}

export interface VerifyIo {
  stdout: Writable;
  stderr: Writable;
  now?: () => Date;
  /** Where --preflight reads cdk.json (default: the current directory, the project's with npm run). */
  cwd?: string;
}

interface VerifyFlags {
  stack: string;
  region: string | undefined;
  testAlarm: boolean;
  preflight: boolean;
  context: string[];
}

/** The flags, or help; every problem an InputError before any AWS call. */
function parseFlags(argv: string[]): VerifyFlags | 'help' {
  let values: { stack?: string; region?: string; 'test-alarm'?: boolean; preflight?: boolean; context?: string[]; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        stack: { type: 'string' },
        region: { type: 'string' },
        'test-alarm': { type: 'boolean' },
        preflight: { type: 'boolean' },
        context: { type: 'string', short: 'c', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new InputError(`${(error as Error).message.split('\n')[0]}; see --help`);
  }
  if (values.help) return 'help';
  const problems = values.preflight ? preflightProblems(values) : stackProblems(values);
  if (values.region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(values.region)) {
    problems.push(`--region "${values.region}" is not an AWS region such as eu-west-1`);
  }
  if (problems.length > 0) throw new InputError(problems);
  return {
    stack: values.stack ?? '',
    region: values.region,
    testAlarm: Boolean(values['test-alarm']),
    preflight: Boolean(values.preflight),
    context: values.context ?? [],
  };
}

/** What is wrong with the flags of a check of a deployed stack. */
function stackProblems(values: { stack?: string; context?: string[] }): string[] {
  const problems = values.context ? ['-c is only read with --preflight'] : [];
  if (!values.stack) problems.push('--stack is required: the stack name (PerpsStatsDb unless you renamed it)');
  else if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(values.stack))
    problems.push(`--stack "${values.stack}" is not a CloudFormation stack name`);
  return problems;
}

/** The flags --preflight does not take: it checks a deploy to come, so there is no stack to name. */
function preflightProblems(values: { stack?: string; 'test-alarm'?: boolean }): string[] {
  return [
    ...(values.stack !== undefined ? ['--stack is not used with --preflight: it checks what a deploy of this folder would create'] : []),
    ...(values['test-alarm'] ? ['--test-alarm needs a deployed stack: run it without --preflight after the deploy'] : []),
  ];
}

/** Runs the steps after the stack one in order; each is printed when it is done. */
async function runSteps(clients: AwsClients, stack: DeployedStack, flags: VerifyFlags, now: () => Date, print: (r: StepResult) => void) {
  const steps: Array<() => Promise<StepResult>> = [
    () => checkStats(clients.lambda, stack),
    () => checkPartitions(clients.lambda, stack),
    () => checkPrune(clients.lambda, stack),
    () => checkVacuum(clients.lambda, stack),
    () => checkArchive(clients.lambda, stack),
    () => checkMetrics(clients.cloudwatch, stack, now()),
    () => checkAlarms(clients.cloudwatch, stack),
    ...(flags.testAlarm ? [() => sendTestNotification(clients.sns, stack, now())] : []),
  ];
  const results: StepResult[] = [];
  for (const step of steps) {
    const result = await step();
    print(result);
    results.push(result);
  }
  return results;
}

/** `--preflight`: the settings read and checked first (bad context: InputError), then the steps. */
async function preflight(flags: VerifyFlags, cwd: string, print: (result: StepResult) => void, out: Writable): Promise<number> {
  const settings = readDeploySettings(cwd, flags.context);
  const clients: PreflightClients = createPreflightClients(flags.region);
  try {
    const region = await resolveRegion(clients.lambda);
    out.write(`preflight of a deploy with database=${settings.config.database.kind} to ${region}\n`);
    return summarize(out, await runPreflight(clients, settings, region, print));
  } finally {
    for (const client of Object.values(clients)) client.destroy();
  }
}

/**
 * `npm run verify`: checks a deployed stack step by step and returns the exit code (the local
 * runner's: 0 ok, 1 a step failed, 2 bad input, 3 unavailable). The one place that maps errors
 * to exit codes here.
 */
export async function runVerify(argv: string[], io: VerifyIo, makeClients = createAwsClients): Promise<number> {
  const now = io.now ?? (() => new Date());
  let clients: AwsClients | undefined;
  try {
    const flags = parseFlags(argv);
    if (flags === 'help') {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const print = (result: StepResult) => printStep(io.stdout, result);
    if (flags.preflight) return await preflight(flags, io.cwd ?? process.cwd(), print, io.stdout);
    clients = makeClients(flags.region);
    const region = await resolveRegion(clients.cloudformation);
    const { result, stack } = await readStack(clients.cloudformation, flags.stack, region);
    print(result);
    if (!stack) return 1;
    return summarize(io.stdout, [result, ...(await runSteps(clients, stack, flags, now, print))]);
  } catch (error) {
    io.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof PerpsDbError ? error.exitCode : 1;
  } finally {
    for (const client of Object.values(clients ?? {})) client.destroy();
  }
}
