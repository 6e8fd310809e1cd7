import type pg from 'pg';
import { errorMessage, type OperationContext } from './context';
import { runWithLockTimeout } from './db/lock-timeout';
import { connectionLostError } from './db/sessions';
import { isConnectionFailure } from './db/sql-errors';
import { PartialFailureError } from './errors';

/** The NOLOGIN group roles of migration 0003. Roles are cluster-wide; their grants are per database. */
export const GROUP_ROLES = ['perps_reader', 'perps_writer'] as const;
export type GroupRole = (typeof GROUP_ROLES)[number];

/**
 * What a privilege is held on: this database, schema `public`, the tables and sequences of
 * `public` that the migrating user owns (partitions included, the migration ledger excluded, the
 * archive ledger excluded for perps_writer),
 * and the tables and sequences that user creates later (its default privileges in `public`).
 */
export type GrantTarget = 'database' | 'schema' | 'table' | 'sequence' | 'future table' | 'future sequence';

/**
 * Tables perps_writer gets no privilege on: the archive ledger (migration 0005), since a row a
 * writer forged there could let prune drop a day that was never archived. perps_reader reads it.
 */
const WRITER_EXCLUDED_TABLES = ['archive_ledger'] as const;

/** What each group role must hold on a migrated database: what migration 0003 grants. */
const PRIVILEGES: Record<GroupRole, Partial<Record<GrantTarget, string[]>>> = {
  perps_reader: { database: ['CONNECT'], schema: ['USAGE'], table: ['SELECT'], 'future table': ['SELECT'] },
  perps_writer: {
    database: ['CONNECT'],
    schema: ['USAGE'],
    table: ['SELECT', 'INSERT'],
    sequence: ['USAGE', 'SELECT'],
    'future table': ['SELECT', 'INSERT'],
    'future sequence': ['USAGE', 'SELECT'],
  },
};

/** Privileges granted by one statement of this run. */
export interface RoleGrant {
  role: GroupRole;
  /** As in the statement: `SELECT, INSERT`. */
  privileges: string;
  on: GrantTarget;
  /** The database, `public`, or the tables or sequences (for future ones: `public`). */
  objects: string[];
}

/** What the step did, for migrate's report. */
export interface RoleGrantsOutcome {
  grants: RoleGrant[];
  /** The notices so far, with this step's own and without 0003's "roles skipped" one, which this step replaces. */
  notices: string[];
}

interface MissingGrant extends RoleGrant {
  /** False when the migrating user does not own the object: only an administrator can grant it. */
  grantable: boolean;
  statement: string;
}

/**
 * Gives `perps_reader` and `perps_writer` whatever migration 0003's grants they lack on this
 * database, whenever the roles exist. 0003 skipped every grant when the migrating user could not
 * create roles, even when the roles already existed (made for another database of the cluster),
 * and it can never change (applied migrations are checksummed), so `migrate` runs this after the
 * migration files, every time. It reads the catalog first and grants only what is missing, in one
 * transaction under the lock timeout: GRANT locks the grantee role on every version, and each table
 * (ACCESS SHARE) on PostgreSQL 18, so a long transaction there must not hang the run.
 * Granting on objects one owns needs no CREATEROLE. Missing roles, and privileges only an
 * administrator can grant, become notices that name them and the statements to run.
 */
export async function grantGroupRoles(
  client: pg.ClientBase,
  ctx: OperationContext,
  options: { ledger: string; notices: readonly string[]; reportSoFar: () => unknown },
): Promise<RoleGrantsOutcome> {
  const notices = options.notices.filter((notice) => !SKIPPED_BY_0003.test(notice));
  const who = await readIdentity(client);
  const absent = await absentRoles(client);
  if (absent.length > 0) notices.push(absentRolesNotice(absent, who));
  const missing = await missingGrants(client, options.ledger);
  for (const m of missing.filter((g) => !g.grantable)) notices.push(administratorNotice(m, who));
  const grants = missing.filter((g) => g.grantable);
  if (grants.length === 0) return { grants: [], notices };
  try {
    await runWithLockTimeout(client, 'role grants', ctx.settings, ctx.log, async () => {
      for (const grant of grants) await client.query(grant.statement);
    });
  } catch (error) {
    if (isConnectionFailure(error)) throw connectionLostError('migrate', client, error, options.reportSoFar());
    throw new PartialFailureError(
      `the migrations are applied, but granting perps_reader and perps_writer their privileges failed (every migrate tries again): ${errorMessage(error)}`,
      { cause: error, report: options.reportSoFar() },
    );
  }
  const report = grants.map(({ role, privileges, on, objects }) => ({ role, privileges, on, objects }));
  notices.push(...grantedNotices(report, who));
  ctx.log.info('role grants applied', { grants: report.map((g) => ({ ...g, objects: g.objects.length })) });
  return { grants: report, notices };
}

/**
 * Migration 0003's notice when the migrating user may not create roles. It asks for both roles
 * to be created even when they exist; this step says instead what is really missing.
 */
const SKIPPED_BY_0003 =
  /^roles skipped: user .* may not create roles; ask an administrator to create perps_reader and perps_writer \(see README\)$/s;

interface Identity {
  user: string;
  database: string;
  mayCreateRoles: boolean;
}

async function readIdentity(client: pg.ClientBase): Promise<Identity> {
  const { rows } = await client.query<Identity>(
    `SELECT current_user AS "user", current_database() AS database, rolsuper OR rolcreaterole AS "mayCreateRoles"
       FROM pg_roles WHERE rolname = current_user`,
  );
  const identity = rows[0];
  if (!identity) throw new Error('current_user is missing from pg_roles');
  return identity;
}

async function absentRoles(client: pg.ClientBase): Promise<GroupRole[]> {
  const { rows } = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [[...GROUP_ROLES]]);
  const present = new Set(rows.map((r) => r.rolname));
  return GROUP_ROLES.filter((role) => !present.has(role));
}

/**
 * One row per (role, target, privileges) that some existing group role lacks, with the objects
 * concerned and the statement that grants it (quoted by the server's format()). A privilege
 * counts as held only when granted to the role itself, as 0003 does, not through PUBLIC; objects
 * of public that another user owns are not ours and are left alone, except the database and the
 * schema, which are reported when the role cannot use them at all.
 */
async function missingGrants(client: pg.ClientBase, ledger: string): Promise<MissingGrant[]> {
  const wanted = Object.entries(PRIVILEGES).flatMap(([role, targets]) =>
    Object.entries(targets).flatMap(([target, privileges]) => privileges.map((privilege) => [role, target, privilege])),
  );
  const { rows } = await client.query<MissingGrant>(MISSING_GRANTS_SQL, [
    wanted.map((w) => w[0]),
    wanted.map((w) => w[1]),
    wanted.map((w) => w[2]),
    ledger,
    [...WRITER_EXCLUDED_TABLES],
  ]);
  return rows;
}

const MISSING_GRANTS_SQL = `
WITH wanted AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS w(role, target, privilege, ord)
),
me AS (SELECT oid FROM pg_roles WHERE rolname = current_user),
objects (target, name, owner, acl) AS (
  SELECT 'database', datname, datdba, datacl FROM pg_database WHERE datname = current_database()
  UNION ALL
  SELECT 'schema', nspname, nspowner, nspacl FROM pg_namespace WHERE nspname = 'public'
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END, c.relname, c.relowner, c.relacl
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S') AND c.relname <> $4
  UNION ALL
  SELECT k.target, n.nspname, me.oid, d.defaclacl
    FROM (VALUES ('future table', 'r'), ('future sequence', 'S')) AS k(target, objtype)
   CROSS JOIN me
    JOIN pg_namespace n ON n.nspname = 'public'
    LEFT JOIN pg_default_acl d ON d.defaclrole = me.oid AND d.defaclnamespace = n.oid AND d.defaclobjtype::text = k.objtype
),
missing AS (
  SELECT w.role, w.target, o.name, w.privilege, w.ord, pg_has_role(o.owner, 'MEMBER') AS grantable,
         CASE w.target
           WHEN 'database' THEN has_database_privilege(r.oid, o.name, w.privilege)
           WHEN 'schema' THEN has_schema_privilege(r.oid, o.name, w.privilege)
           ELSE false
         END AS usable
    FROM wanted w
    JOIN pg_roles r ON r.rolname = w.role
    JOIN objects o ON o.target = w.target
   WHERE NOT EXISTS (SELECT FROM aclexplode(o.acl) a WHERE a.grantee = r.oid AND a.privilege_type = w.privilege)
     AND NOT (w.role = 'perps_writer' AND w.target = 'table' AND o.name = ANY ($5::text[]))
),
per_object AS (
  SELECT role, target, name, grantable, string_agg(privilege, ', ' ORDER BY ord) AS privileges, min(ord) AS ord
    FROM missing
   WHERE grantable OR (target IN ('database', 'schema') AND NOT usable)
   GROUP BY role, target, name, grantable
)
SELECT role, target AS "on", privileges, grantable, array_agg(name::text ORDER BY name) AS objects,
       format(CASE target
                WHEN 'database' THEN 'GRANT %1$s ON DATABASE %2$s TO %3$I'
                WHEN 'schema' THEN 'GRANT %1$s ON SCHEMA %2$s TO %3$I'
                WHEN 'table' THEN 'GRANT %1$s ON TABLE %2$s TO %3$I'
                WHEN 'sequence' THEN 'GRANT %1$s ON SEQUENCE %2$s TO %3$I'
                WHEN 'future table' THEN 'ALTER DEFAULT PRIVILEGES IN SCHEMA %2$s GRANT %1$s ON TABLES TO %3$I'
                WHEN 'future sequence' THEN 'ALTER DEFAULT PRIVILEGES IN SCHEMA %2$s GRANT %1$s ON SEQUENCES TO %3$I'
              END, privileges, string_agg(quote_ident(name), ', ' ORDER BY name), role) AS statement
  FROM per_object
 GROUP BY role, target, privileges, grantable
 ORDER BY min(ord)`;

/** What an administrator runs to create a missing role, as migration 0003 creates it. */
const CREATE_ROLE: Record<GroupRole, string> = {
  perps_reader: 'CREATE ROLE perps_reader NOLOGIN;',
  perps_writer: 'CREATE ROLE perps_writer NOLOGIN;',
};

function absentRolesNotice(absent: GroupRole[], who: Identity): string {
  const names = absent.join(' and ');
  const create = absent.map((role) => CREATE_ROLE[role]).join(' ');
  const subject = absent.length === 1 ? `role ${names} does not exist, so it has` : `roles ${names} do not exist, so they have`;
  const ask = who.mayCreateRoles ? 'run' : `user ${who.user} may not create roles: ask an administrator to run`;
  return `${subject} no privileges on database ${who.database}; ${ask} ${create} then run migrate again, which grants them (see README, Roles)`;
}

function administratorNotice(grant: MissingGrant, who: Identity): string {
  const what = grant.on === 'database' ? `database ${who.database}` : `schema ${grant.objects.join(', ')}`;
  return `${grant.role} lacks ${grant.privileges} on ${what}, which user ${who.user} does not own: ask an administrator to run ${grant.statement}`;
}

/** One notice per role: `granted perps_writer ... : CONNECT on the database; SELECT, INSERT on 11 tables; ...`. */
function grantedNotices(grants: RoleGrant[], who: Identity): string[] {
  return GROUP_ROLES.flatMap((role) => {
    const parts = grants.filter((g) => g.role === role).map((g) => `${g.privileges} on ${describeTarget(g, who.user)}`);
    return parts.length ? [`granted ${role} its missing privileges on database ${who.database}: ${parts.join('; ')}`] : [];
  });
}

function describeTarget(grant: RoleGrant, user: string): string {
  const count = grant.objects.length;
  switch (grant.on) {
    case 'database':
      return 'the database';
    case 'schema':
      return `schema ${grant.objects.join(', ')}`;
    case 'table':
      return `${count} ${count === 1 ? 'table' : 'tables'}`;
    case 'sequence':
      return `${count} ${count === 1 ? 'sequence' : 'sequences'}`;
    case 'future table':
      return `the tables user ${user} creates later`;
    case 'future sequence':
      return `the sequences user ${user} creates later`;
  }
}
