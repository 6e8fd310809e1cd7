import { afterAll, describe, expect, it } from 'vitest';
import { HANDLER_OPERATIONS, type HandlerOperation } from '../../infra/bundling';
import { synthesize } from '../support/infra';

// The default configuration (new RDS instance). The existing database's one secret: variants.test.ts.
const { template, stack, cleanup } = synthesize();
afterAll(cleanup);

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };
const resources = (type: string) => template.findResources(type) as Record<string, Resource>;
const logicalId = (construct: unknown) =>
  construct ? stack.getLogicalId((construct as { node: { defaultChild: never } }).node.defaultChild) : 'absent';
const logins = stack.logins;

const secretIds = {
  master: logicalId(stack.database.secret),
  maintenance: logicalId(logins?.secrets.maintenance),
  stats: logicalId(logins?.secrets.stats),
};
const secretName = (ref: unknown) =>
  Object.entries(secretIds).find(([, id]) => JSON.stringify(ref) === JSON.stringify({ Ref: id }))?.[0] ?? JSON.stringify(ref);

/** The secrets each IAM role may read, by the role's logical id. */
function secretsReadByRole(): Map<string, string[]> {
  const byRole = new Map<string, string[]>();
  for (const policy of Object.values(resources('AWS::IAM::Policy'))) {
    const document = policy.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] };
    const read = document.Statement.filter((statement) => JSON.stringify(statement.Action).includes('secretsmanager'))
      .flatMap((statement) => [statement.Resource].flat())
      .map(secretName);
    for (const role of policy.Properties.Roles as { Ref: string }[]) byRole.set(role.Ref, [...(byRole.get(role.Ref) ?? []), ...read]);
  }
  return byRole;
}

/** A function's properties in the template. */
const fnProps = (operation: HandlerOperation) => {
  const fn = resources('AWS::Lambda::Function')[logicalId(stack.handlers.functions[operation])];
  if (!fn) throw new Error(`no function for ${operation}`);
  return fn.Properties;
};
const roleOf = (operation: HandlerOperation) => (fnProps(operation).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

describe('function logins', () => {
  it('lets only migrate read the master secret; stats reads the stats login, the maintenance functions the maintenance login', () => {
    const byRole = secretsReadByRole();
    const readBy = Object.fromEntries(HANDLER_OPERATIONS.map((operation) => [operation, byRole.get(roleOf(operation))]));
    expect(readBy).toEqual({
      migrate: ['master', 'maintenance', 'stats'],
      partitions: ['maintenance'],
      prune: ['maintenance'],
      vacuum: ['maintenance'],
      archive: ['maintenance'],
      restore: ['maintenance'],
      stats: ['stats'],
    });
    // No other role of the template may read any of them (the hosted rotation functions are AWS's, one per secret).
    const readers = [...byRole.entries()].filter(([, secrets]) => secrets.length > 0).map(([role]) => role);
    expect(readers.sort()).toEqual(HANDLER_OPERATIONS.map(roleOf).sort());
  });

  it('logs each function in as its login: DB_SECRET_ARN names its secret, and only migrate gets the logins it makes', () => {
    const variables = (operation: HandlerOperation) => (fnProps(operation).Environment as { Variables: Record<string, unknown> }).Variables;
    const logins = Object.fromEntries(
      HANDLER_OPERATIONS.map((operation) => {
        const { DB_SECRET_ARN, DB_MAINTENANCE_SECRET_ARN, DB_STATS_SECRET_ARN } = variables(operation);
        return [operation, [DB_SECRET_ARN, DB_MAINTENANCE_SECRET_ARN, DB_STATS_SECRET_ARN].filter(Boolean).map(secretName)];
      }),
    );
    expect(logins).toEqual({
      migrate: ['master', 'maintenance', 'stats'],
      partitions: ['maintenance'],
      prune: ['maintenance'],
      vacuum: ['maintenance'],
      archive: ['maintenance'],
      restore: ['maintenance'],
      stats: ['stats'],
    });
  });

  it('creates one generated secret per login, in the RDS shape, attached to the database for its host and port', () => {
    const secrets = Object.values(resources('AWS::SecretsManager::Secret')).map(
      (secret) => JSON.parse((secret.Properties.GenerateSecretString as { SecretStringTemplate: string }).SecretStringTemplate) as object,
    );
    expect(secrets).toEqual(
      expect.arrayContaining([
        { username: 'perps_maintenance', dbname: 'perps' },
        { username: 'perps_stats', dbname: 'perps' },
      ]),
    );
    expect(secrets).toHaveLength(3);
    const attachments = resources('AWS::SecretsManager::SecretTargetAttachment');
    for (const id of [secretIds.maintenance, secretIds.stats]) {
      expect(attachments[id]?.Properties).toMatchObject({
        TargetType: 'AWS::RDS::DBInstance',
        TargetId: { Ref: expect.stringMatching(/^DatabaseInstance/) },
      });
    }
  });

  it('rotates each login secret every 30 days by hosted single-user rotation, only after the migrate trigger made the logins', () => {
    const trigger = logicalId(stack.deployMigrations.migrate.node.findChild('Default'));
    const schedules = Object.values(resources('AWS::SecretsManager::RotationSchedule'));
    expect(schedules).toHaveLength(3);
    for (const id of [secretIds.maintenance, secretIds.stats]) {
      const schedule = schedules.find((s) => JSON.stringify(s.Properties.SecretId) === JSON.stringify({ Ref: id }));
      expect(schedule?.Properties).toMatchObject({
        HostedRotationLambda: {
          RotationType: 'PostgreSQLSingleUser',
          VpcSubnetIds: expect.anything(),
          VpcSecurityGroupIds: expect.anything(),
        },
        RotationRules: { ScheduleExpression: 'rate(30 days)' },
        RotateImmediatelyOnUpdate: false,
      });
      expect(schedule?.DependsOn).toContain(trigger);
    }
  });

  it('updates the functions that use a login after the migrate trigger made it (partitions excepted: a cycle through the shared trigger provider), and runs migrate after the login secrets are attached', () => {
    const trigger = logicalId(stack.deployMigrations.migrate.node.findChild('Default'));
    const functions = resources('AWS::Lambda::Function');
    const after = HANDLER_OPERATIONS.filter((operation) =>
      functions[logicalId(stack.handlers.functions[operation])]?.DependsOn?.includes(trigger),
    );
    expect(after).toEqual(
      ['prune', 'stats', 'vacuum', 'archive', 'restore'].filter((op) => HANDLER_OPERATIONS.includes(op as HandlerOperation)),
    );
    expect(resources('Custom::Trigger')[trigger]?.DependsOn).toEqual(expect.arrayContaining([secretIds.maintenance, secretIds.stats]));
  });
});
