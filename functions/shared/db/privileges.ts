import type pg from 'pg';
import { InsufficientPrivilegeError } from '../errors';
import { JOB_RUNS_TABLE } from '../job-runs';
import { ALL_TABLES } from '../tables';
import { quoteIdent } from './identifiers';
import { withClient } from './sessions';
import { SQLSTATE, sqlState } from './sql-errors';

/**
 * Which login an operation needs. `owner`: the role that owns the perps-stats tables (the one
 * that ran migrate, or a member of it): it creates and drops partitions and tables, which no
 * grant allows. `reader`: SELECT on the tables, which perps_reader has.
 */
export type RequiredRole = 'owner' | 'reader';

/** The migration ledger: migrate owns it like the tables. */
const LEDGER_TABLE = 'perps_schema_migrations';

interface TablePrivilege {
  name: string;
  owner: string;
  owns: boolean;
  can_select: boolean;
}

/**
 * Checks, before an operation starts, that the login has what the operation needs, so that a
 * writer or reader login gets one message naming the missing privilege and the role to use,
 * instead of a "permission denied" per table halfway through. Tables that do not exist yet are
 * not checked (migrate creates them; the other operations say to run init).
 */
export async function assertPrivileges(pool: pg.Pool, operation: string, needs: RequiredRole): Promise<void> {
  await withClient(pool, async (client) => {
    const { rows: who } = await client.query<{ login: string; schema: string; can_create: boolean }>(
      `SELECT current_user AS login, current_schema() AS schema, has_schema_privilege(current_schema(), 'CREATE') AS can_create`,
    );
    const { login, schema, can_create } = who[0] ?? { login: '?', schema: 'public', can_create: false };
    const { rows: tables } = await client.query<TablePrivilege>(
      `SELECT t.name, pg_get_userbyid(c.relowner) AS owner,
              pg_has_role(current_user, c.relowner, 'USAGE') AS owns,
              has_table_privilege(c.oid, 'SELECT') AS can_select
         FROM unnest($1::text[]) WITH ORDINALITY AS t(name, position)
         JOIN pg_class c ON c.oid = to_regclass(quote_ident(t.name))
        ORDER BY t.position`,
      [[...ALL_TABLES, JOB_RUNS_TABLE, LEDGER_TABLE]],
    );
    const problem = needs === 'owner' ? ownerProblem(login, schema, can_create, tables) : readerProblem(login, tables);
    if (problem) throw new InsufficientPrivilegeError(`${operation} ${problem}`);
  });
}

function ownerProblem(login: string, schema: string, canCreate: boolean, tables: TablePrivilege[]): string | undefined {
  // The run history is recorded through a function, and no maintenance step touches the table itself.
  const notOwned = tables.filter((table) => !table.owns && table.name !== JOB_RUNS_TABLE);
  if (canCreate && notOwned.length === 0) return undefined;
  const missing = [
    ...(canCreate ? [] : [`the CREATE privilege on schema ${quoteIdent(schema)}`]),
    ...(notOwned.length > 0 ? [`ownership of ${listTables(notOwned)} (owned by ${owners(notOwned)})`] : []),
  ];
  return (
    `needs the owner of the perps-stats tables, and login ${login} lacks ${missing.join(' and ')}: ` +
    'run it as the role that ran migrate (or a member of it); perps_writer and perps_reader logins may only write or read rows, and stats is the command a reader may run'
  );
}

function readerProblem(login: string, tables: TablePrivilege[]): string | undefined {
  const unreadable = tables.filter((table) => !table.can_select && table.name !== LEDGER_TABLE);
  if (unreadable.length === 0) return undefined;
  const grant = `GRANT perps_reader TO ${quoteIdent(login)}`;
  return `${READ_NEED}, and login ${login} lacks it on ${listTables(unreadable)}: run it as a login in perps_reader (${grant}) or as the owner`;
}

const READ_NEED = 'needs SELECT on the perps-stats tables';
const listTables = (tables: TablePrivilege[]) => tables.map((table) => table.name).join(', ');
const owners = (tables: TablePrivilege[]) => [...new Set(tables.map((table) => table.owner))].join(', ');

/**
 * A "permission denied" (42501) the check above did not foresee (a revoked grant, a function
 * the login may not call), said once, with what to do; any other error is returned unchanged.
 */
export function toPrivilegeError(error: unknown, operation: string, needs: RequiredRole): unknown {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (sqlState(e) !== SQLSTATE.insufficientPrivilege) continue;
    const report = (error as { report?: unknown }).report;
    const role = needs === 'owner' ? 'the role that ran migrate (the owner of the tables)' : 'a login in perps_reader, or the owner';
    return new InsufficientPrivilegeError(`${operation}: ${(e as Error).message}: run it as ${role}`, { cause: error, report });
  }
  return error;
}
