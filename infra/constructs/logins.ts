import { Duration, Stack } from 'aws-cdk-lib';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, type IDependable } from 'constructs';
import type { LoginPurpose } from '../../functions/shared/logins';
import { DATABASE_NAME, type NewDatabase } from './database';
import { createLogGroup } from './log-groups';

/** The logins' names, in their secrets; migrate makes the logins from those secrets. */
export const LOGIN_NAMES: Record<LoginPurpose, string> = { maintenance: 'perps_maintenance', stats: 'perps_stats' };

const PURPOSES = Object.keys(LOGIN_NAMES) as LoginPurpose[];
const capitalized = (purpose: LoginPurpose) => `${purpose[0]?.toUpperCase()}${purpose.slice(1)}`;

/**
 * One generated secret per function login (the RDS shape: attached to the database for its
 * host and port), each rotated by a hosted single-user rotation function every 30 days. The
 * logins themselves are made by `migrate` (functions/operations/migrate/logins.ts), so the rotation
 * schedules come after the migrate trigger: creating one makes Secrets Manager log in.
 */
export class DatabaseLogins extends Construct {
  /** The attached secrets: their ARN is the secret's, and referencing it waits for host and port. */
  readonly secrets: Record<LoginPurpose, secretsmanager.ISecret>;
  private readonly database: NewDatabase;

  constructor(scope: Construct, id: string, props: { database: NewDatabase }) {
    super(scope, id);
    this.database = props.database;
    const server = props.database.server;
    const target = server.kind === 'instance' ? server.instance : server.cluster;
    this.secrets = Object.fromEntries(
      PURPOSES.map((purpose) => {
        const secret = new rds.DatabaseSecret(this, `${capitalized(purpose)}Secret`, {
          username: LOGIN_NAMES[purpose],
          dbname: DATABASE_NAME,
        });
        return [purpose, secret.attach(target)];
      }),
    ) as Record<LoginPurpose, secretsmanager.ISecret>;
  }

  /** The attachments, for the migrate trigger to wait for. */
  get attachments(): Construct[] {
    return PURPOSES.map((purpose) => this.secrets[purpose] as unknown as Construct);
  }

  /**
   * Rotation of each login's secret, after `after` (the migrate trigger that makes the logins).
   * Not at deploy time: migrate sets the password the secret holds, and a rotation racing it
   * would leave the two apart until the next migrate.
   */
  rotateAfter(after: IDependable): void {
    for (const purpose of PURPOSES) {
      const functionName = `${Stack.of(this).stackName}-${purpose}-rotation`;
      const logGroup = createLogGroup(this, `${capitalized(purpose)}RotationLogs`, `/aws/lambda/${functionName}`);
      const schedule = new secretsmanager.RotationSchedule(this, `${capitalized(purpose)}Rotation`, {
        secret: this.secrets[purpose],
        hostedRotation: this.database.singleUserRotation(functionName),
        automaticallyAfter: Duration.days(30),
        rotateImmediatelyOnUpdate: false,
      });
      schedule.node.addDependency(after, this.database.rotationSecurityGroup, logGroup);
    }
  }
}
