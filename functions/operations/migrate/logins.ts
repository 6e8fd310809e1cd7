import pg from 'pg';
import { errorMessage, type OperationContext } from '../../shared/context';
import { quoteIdent } from '../../shared/db/identifiers';
import { runWithLockTimeout } from '../../shared/db/locks';
import { isHashablePassword, scramVerifier } from '../../shared/db/scram';
import { connectionLostError } from '../../shared/db/sessions';
import { isConnectionFailure, SQLSTATE, sqlState } from '../../shared/db/sql-errors';
import { InputError, InsufficientPrivilegeError, LockTimeoutError, PartialFailureError } from '../../shared/errors';
import { LOGIN_PURPOSES, type LoginCredentials, type LoginPurpose, type ManagedLogins } from '../../shared/logins';
import { GROUP_ROLES, type Identity, readIdentity } from './role-grants';

export interface LoginOutcome {
  login: string;
  purpose: LoginPurpose;
  /** False: it existed, and got its secret's password and its grants again. */
  created: boolean;
}

/** What the step did, for migrate's report. */
export interface LoginsOutcome {
  logins: LoginOutcome[];
  /** Tables and sequences of schema public, and the history's recording function, handed from the migrating user to the maintenance login. */
  ownership_moved: number;
}

/**
 * Makes the logins of `logins` match their secrets, as the migrating user (the RDS master user,
 * CREATEROLE): each is created or given its secret's password (as a SCRAM verifier: the
 * password never reaches the server's log), the maintenance login gets CONNECT, USAGE and CREATE
 * on schema public, default privileges for the groups on what it creates, and the ownership of
 * every table and sequence of public the migrating user owns (one object per short transaction
 * under the lock timeout: ALTER ... OWNER takes ACCESS EXCLUSIVE for a moment); the stats login
 * joins perps_reader. The migrating user joins the maintenance login, so it still owns
 * everything through it. Runs on every migrate: a rotation, a rollback or a recreated stack's
 * new secrets are caught up with by the next one.
 */
export async function ensureLogins(
  client: pg.ClientBase,
  ctx: OperationContext,
  logins: ManagedLogins,
  reportSoFar: () => unknown,
): Promise<LoginsOutcome> {
  const { entries, who } = await checkManagedLogins(client, logins);
  if (!who.mayCreateRoles) {
    throw new InsufficientPrivilegeError(
      `migrate: making the logins ${entries.map(([, l]) => l.username).join(', ')} needs CREATEROLE, and user ${who.user} lacks it: run migrate as the RDS master user (or another CREATEROLE user), or unset DB_MAINTENANCE_SECRET_ARN and DB_STATS_SECRET_ARN`,
      { report: reportSoFar() },
    );
  }
  const outcomes: LoginOutcome[] = [];
  try {
    await runWithLockTimeout(client, 'logins', ctx.settings, ctx.log, async () => {
      outcomes.length = 0;
      for (const [purpose, login] of entries) outcomes.push(await ensureLogin(client, purpose, login, who));
    });
  } catch (error) {
    throw loginError(error, client, who, reportSoFar);
  }
  const maintenance = logins.maintenance;
  const moved = maintenance ? await moveOwnership(client, ctx, maintenance.username, reportSoFar) : 0;
  ctx.log.info('logins in step with their secrets', { logins: outcomes, ownershipMoved: moved });
  return { logins: outcomes, ownership_moved: moved };
}

/** Refuses (InputError) logins that cannot be made as asked; migrate calls it before applying anything. */
export async function checkManagedLogins(
  client: pg.ClientBase,
  logins: ManagedLogins,
): Promise<{ entries: Array<[LoginPurpose, LoginCredentials]>; who: Identity }> {
  const entries = checkLogins(logins);
  const who = await readIdentity(client);
  const own = entries.find(([, login]) => login.username === who.user);
  if (own) {
    throw new InputError(
      `the ${own[0]} login's secret ${own[1].source} names ${who.user}, the user migrate runs as: a function login must be a login of its own`,
    );
  }
  return { entries, who };
}

/** Every problem with the credentials at once, before anything changes. */
function checkLogins(logins: ManagedLogins): Array<[LoginPurpose, LoginCredentials]> {
  const entries = LOGIN_PURPOSES.flatMap((purpose) => {
    const login = logins[purpose];
    return login ? [[purpose, login] as [LoginPurpose, LoginCredentials]] : [];
  });
  const problems: string[] = [];
  for (const [purpose, login] of entries) {
    if (!isHashablePassword(login.password))
      problems.push(`the ${purpose} login's password (secret ${login.source}) must be printable ASCII`);
    if ((GROUP_ROLES as readonly string[]).includes(login.username)) {
      problems.push(`the ${purpose} login (secret ${login.source}) must not be named ${login.username}, a group role`);
    }
  }
  if (entries.length === 2 && entries[0]?.[1].username === entries[1]?.[1].username) {
    problems.push(`the maintenance and stats logins must be two logins, and both secrets name ${entries[0]?.[1].username}`);
  }
  if (problems.length > 0) throw new InputError(problems);
  return entries;
}

interface ExistingRole {
  /** Attributes a plain login must not have, by name. */
  unsafe: string[];
  /** CREATEDB or CREATEROLE: taken away. */
  excess: string[];
}

async function readRole(client: pg.ClientBase, name: string): Promise<ExistingRole | undefined> {
  const { rows } = await client.query<ExistingRole>(
    `SELECT array_remove(ARRAY[CASE WHEN rolsuper THEN 'SUPERUSER' END, CASE WHEN rolreplication THEN 'REPLICATION' END,
                               CASE WHEN rolbypassrls THEN 'BYPASSRLS' END], NULL) AS unsafe,
            array_remove(ARRAY[CASE WHEN rolcreatedb THEN 'NOCREATEDB' END, CASE WHEN rolcreaterole THEN 'NOCREATEROLE' END], NULL) AS excess
       FROM pg_roles WHERE rolname = $1`,
    [name],
  );
  return rows[0];
}

/** Creates the login or gives it its secret's password, then its grants. */
async function ensureLogin(client: pg.ClientBase, purpose: LoginPurpose, login: LoginCredentials, who: Identity): Promise<LoginOutcome> {
  const verifier = scramVerifier(login.password);
  const existing = await readRole(client, login.username);
  if (existing && existing.unsafe.length > 0) {
    throw new InputError(
      `the ${purpose} login ${login.username} (secret ${login.source}) exists with ${existing.unsafe.join(', ')}: a function's login must be a plain one; have an administrator take that away, or name another login in the secret`,
    );
  }
  if (existing) {
    await client.query(`ALTER ROLE ${quoteIdent(login.username)} WITH LOGIN PASSWORD ${pg.escapeLiteral(verifier)}`);
    if (existing.excess.length > 0) await client.query(`ALTER ROLE ${quoteIdent(login.username)} WITH NOCREATEDB NOCREATEROLE`);
  } else {
    await client.query(
      `CREATE ROLE ${quoteIdent(login.username)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${pg.escapeLiteral(verifier)}`,
    );
  }
  if (purpose === 'maintenance') await grantMaintenance(client, login.username, who);
  else await joinGroup(client, login.username, 'perps_reader');
  return { login: login.username, purpose, created: !existing };
}

/**
 * What the maintenance login needs beyond owning the tables: to connect (PUBLIC may not), to
 * create partitions in public, and the groups' default privileges on the tables it creates.
 */
async function grantMaintenance(client: pg.ClientBase, login: string, who: Identity): Promise<void> {
  // USAGE, not MEMBER: on PostgreSQL 16 and later, creating a role makes its creator a member with ADMIN only.
  const { rows } = await client.query<{ member: boolean }>(`SELECT pg_has_role(current_user, $1, 'USAGE') AS member`, [login]);
  // The migrating user acts as the owner through this membership (ALTER ... OWNER TO needs it too).
  if (!rows[0]?.member) await client.query(`GRANT ${quoteIdent(login)} TO ${quoteIdent(who.user)}`);
  await client.query(`GRANT CONNECT ON DATABASE ${quoteIdent(who.database)} TO ${quoteIdent(login)}`);
  await client.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${quoteIdent(login)}`);
  const groups = await existingGroups(client);
  const grantByDefault = (what: string) =>
    client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdent(login)} IN SCHEMA public GRANT ${what}`);
  if (groups.has('perps_reader')) await grantByDefault('SELECT ON TABLES TO perps_reader');
  if (groups.has('perps_writer')) {
    await grantByDefault('SELECT ON TABLES TO perps_writer');
    await grantByDefault('USAGE, SELECT ON SEQUENCES TO perps_writer');
  }
}

async function existingGroups(client: pg.ClientBase): Promise<Set<string>> {
  const { rows } = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [[...GROUP_ROLES]]);
  return new Set(rows.map((row) => row.rolname));
}

async function joinGroup(client: pg.ClientBase, login: string, group: string): Promise<void> {
  const { rows } = await client.query<{ exists: boolean; member: boolean }>(
    `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $2) AS exists,
            EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles l ON l.oid = m.member
                     WHERE g.rolname = $2 AND l.rolname = $1) AS member`,
    [login, group],
  );
  if (!rows[0]?.exists) {
    throw new InsufficientPrivilegeError(
      `migrate: ${group} does not exist, so login ${login} cannot join it: run migrate as a user that may create roles`,
    );
  }
  if (!rows[0].member) await client.query(`GRANT ${quoteIdent(group)} TO ${quoteIdent(login)}`);
}

/** A failure of the logins transaction, said with what to do; nothing of it was committed. */
function loginError(error: unknown, client: pg.ClientBase, who: Identity, reportSoFar: () => unknown): unknown {
  if (isConnectionFailure(error)) return connectionLostError('migrate', client, error, reportSoFar());
  if (sqlState(error) === SQLSTATE.insufficientPrivilege) {
    const statement = `GRANT perps_reader TO ${quoteIdent(who.user)} WITH ADMIN OPTION`;
    return new InsufficientPrivilegeError(
      `migrate: user ${who.user} may not set up the function logins (${errorMessage(error)}); on PostgreSQL 16 and later it needs ADMIN OPTION on the roles it grants: have an administrator run ${statement} (see docs/deploy.md, Logins and their secrets)`,
      { cause: error, report: reportSoFar() },
    );
  }
  if (error instanceof InputError || error instanceof LockTimeoutError) return error;
  return new PartialFailureError(
    `the migrations are applied, but setting up the function logins failed (every migrate tries again): ${errorMessage(error)}`,
    {
      cause: error,
      report: reportSoFar(),
    },
  );
}

/**
 * Tables (partitioned ones and partitions included) and free-standing sequences of public that the
 * migrating user owns, and the history's recording function (migration 0008: SECURITY DEFINER, so
 * it must run as the tables' owner, not as the master user), each with its ALTER ... OWNER TO $1.
 */
const OWNED_BY_ME_SQL = `
SELECT c.relname AS name,
       format('ALTER %s public.%I OWNER TO %I', CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.relname, $1::text) AS statement
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
   AND (c.relkind IN ('r', 'p')
        OR (c.relkind = 'S' AND NOT EXISTS (SELECT FROM pg_depend d
                                             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))))
UNION ALL
SELECT p.proname || '()',
       format('ALTER FUNCTION public.%I(%s) OWNER TO %I', p.proname, pg_get_function_identity_arguments(p.oid), $1::text)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public' AND p.proname = 'record_job_run' AND p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
 ORDER BY 1`;

/**
 * Hands each object to the maintenance login in its own transaction (its indexes and column
 * sequences move with a table), so no insert waits longer than the lock timeout; one that
 * cannot be had is left for the next migrate, and the run fails naming it.
 */
async function moveOwnership(client: pg.ClientBase, ctx: OperationContext, login: string, reportSoFar: () => unknown): Promise<number> {
  const { rows } = await client.query<{ name: string; statement: string }>(OWNED_BY_ME_SQL, [login]);
  const failed: string[] = [];
  for (const { name, statement } of rows) {
    try {
      await runWithLockTimeout(client, `ownership of ${name}`, ctx.settings, ctx.log, () => client.query(statement));
    } catch (error) {
      if (isConnectionFailure(error)) throw connectionLostError('migrate', client, error, reportSoFar());
      failed.push(`${name}: ${errorMessage(error)}`);
    }
  }
  if (failed.length > 0) {
    throw new PartialFailureError(
      `the migrations are applied, but ${failed.length} of ${rows.length} objects were not handed to the maintenance login ${login} (the next migrate tries again): ${failed.join('; ')}`,
      { report: reportSoFar() },
    );
  }
  return rows.length;
}
