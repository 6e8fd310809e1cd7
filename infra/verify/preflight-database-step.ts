import {
  DescribeDBEngineVersionsCommand,
  DescribeOrderableDBInstanceOptionsCommand,
  type OrderableDBInstanceOption,
  paginateDescribeOrderableDBInstanceOptions,
  type RDSClient,
} from '@aws-sdk/client-rds';
import type { NewDatabaseConfig, StackConfig } from '../config';
import { failedAwsStep, type StepResult } from './step';

/** What the stack would ask RDS for: engine, version as configured, instance class. */
interface DatabaseOrder {
  engine: 'postgres' | 'aurora-postgresql';
  version: string;
  instanceClass: string;
  /** RDS only: gp3 storage (the stack's), and a standby with multiAz. */
  storageType: string | undefined;
  multiAz: boolean;
}

function orderOf(database: NewDatabaseConfig): DatabaseOrder {
  if (database.kind === 'aurora') {
    return {
      engine: 'aurora-postgresql',
      version: database.engineVersion,
      instanceClass: 'db.serverless',
      storageType: undefined,
      multiAz: false,
    };
  }
  return {
    engine: 'postgres',
    version: database.engineVersion,
    instanceClass: `db.${database.instanceType}`,
    storageType: 'gp3',
    multiAz: database.multiAz,
  };
}

/** The version RDS would create: MAJOR.MINOR as given, MAJOR as the region's default minor; undefined when the region has none. */
async function resolveVersion(rds: RDSClient, order: DatabaseOrder): Promise<string | undefined> {
  const majorOnly = !order.version.includes('.');
  const { DBEngineVersions } = await rds.send(
    new DescribeDBEngineVersionsCommand({
      Engine: order.engine,
      EngineVersion: order.version,
      ...(majorOnly ? { DefaultOnly: true } : {}),
    }),
  );
  const wanted = (found: string | undefined) => (majorOnly ? found?.split('.')[0] === order.version : found === order.version);
  return DBEngineVersions?.map((found) => found.EngineVersion).find(wanted);
}

/** Graviton classes offered for this engine version, for the advice when the configured one is not. */
async function gravitonClasses(rds: RDSClient, engine: string, version: string): Promise<string[]> {
  const classes = new Set<string>();
  for await (const page of paginateDescribeOrderableDBInstanceOptions({ client: rds }, { Engine: engine, EngineVersion: version })) {
    for (const option of page.OrderableDBInstanceOptions ?? []) {
      if (/^db\.[a-z]+\d+g[a-z]*\./.test(option.DBInstanceClass ?? '')) classes.add(option.DBInstanceClass as string);
    }
  }
  return [...classes].sort();
}

/** Why the orderable options do not fit the order (storage type, Multi-AZ), or undefined when one does. */
function misfit(order: DatabaseOrder, options: OrderableDBInstanceOption[]): string | undefined {
  const storage = order.storageType ? options.filter((option) => option.StorageType === order.storageType) : options;
  if (storage.length === 0) return `${order.storageType} storage is not offered with it`;
  if (order.multiAz && !storage.some((option) => option.MultiAZCapable)) return 'Multi-AZ is not offered with it';
  return undefined;
}

/** What to pass instead: for RDS, the Graviton classes the region offers with that version. */
async function adviceFor(rds: RDSClient, order: DatabaseOrder, version: string, region: string, offered: boolean): Promise<string> {
  if (order.engine === 'aurora-postgresql') {
    return `pick a version with Serverless v2 there (aws rds describe-orderable-db-instance-options --engine aurora-postgresql --db-instance-class db.serverless --region ${region} --query 'OrderableDBInstanceOptions[].EngineVersion') and pass -c engineVersion=...`;
  }
  if (offered) return 'pass another -c instanceType, or -c multiAz=false';
  const classes = (await gravitonClasses(rds, order.engine, version)).map((name) => name.replace(/^db\./, ''));
  return `pass -c instanceType= one of the Graviton classes offered there: ${classes.join(', ') || 'none (pick another engineVersion)'}`;
}

/** Whether the region offers the database the stack would create: engine version and instance class (RDS's orderable options). */
export async function checkDatabaseOffer(rds: RDSClient, config: StackConfig, region: string): Promise<StepResult> {
  if (config.database.kind === 'existing') return { step: 'database', ok: true, detail: 'database=existing: the stack creates none' };
  const order = orderOf(config.database);
  try {
    const version = await resolveVersion(rds, order);
    if (!version) {
      return {
        step: 'database',
        ok: false,
        detail: `${order.engine} ${order.version} is not offered in ${region}`,
        todo: `pick a version the region offers (aws rds describe-db-engine-versions --engine ${order.engine} --region ${region} --query 'DBEngineVersions[].EngineVersion') and pass -c engineVersion=...`,
      };
    }
    const { OrderableDBInstanceOptions: options = [] } = await rds.send(
      new DescribeOrderableDBInstanceOptionsCommand({ Engine: order.engine, EngineVersion: version, DBInstanceClass: order.instanceClass }),
    );
    const which = version === order.version ? version : `${version} (the region's default ${order.version})`;
    const resolved = `${order.engine} ${which} on ${order.instanceClass}`;
    const problem = options.length === 0 ? `${order.instanceClass} is not offered with it` : misfit(order, options);
    if (!problem) return { step: 'database', ok: true, detail: `${resolved}: orderable in ${region}` };
    const todo = await adviceFor(rds, order, version, region, options.length > 0);
    return { step: 'database', ok: false, detail: `${resolved}: ${problem} in ${region}`, todo };
  } catch (error) {
    return failedAwsStep('database', error, 'RDS', 'rds:DescribeDBEngineVersions and rds:DescribeOrderableDBInstanceOptions');
  }
}
