import type pg from 'pg';
import { errorMessage, type OperationContext } from '../../shared/context';
import { quoteIdent } from '../../shared/db/identifiers';
import { runWithLockTimeout } from '../../shared/db/locks';
import { connectionLostError } from '../../shared/db/sessions';
import { isConnectionFailure } from '../../shared/db/sql-errors';
import { PartialFailureError } from '../../shared/errors';
import { TIME_SERIES_TABLES } from '../../shared/tables';

/** The NOLOGIN group roles of migration 0003. Roles are cluster-wide; their grants are per database. */
export const GROUP_ROLES = ['perps_reader', 'perps_writer'] as const;
export type GroupRole = (typeof GROUP_ROLES)[number];

/**
 * What a privilege is held on: this database, schema `public`, the tables and sequences of
 * `public` that the migrating user owns (partitions included, the migration ledger excluded, the
 * archive ledger excluded for perps_writer),
 * and the tables and sequences that user creates later (its default privileges in `public`);
 * `function`: the history's recording function (migration 0008), which perps_reader (stats) calls.
 */
export type GrantTarget = 'database' | 'schema' | 'table' | 'sequence' | 'future table' | 'future sequence' | 'function';

/**
 * Tables perps_writer gets no privilege on: the archive ledger (migration 0005), since a row a
 * writer forged there could let prune drop a day that was never archived. perps_reader reads it.
 */
const WRITER_EXCLUDED_TABLES = ['archive_ledger'] as const;

/**
 * The only tables perps_writer may INSERT into: what an ingester writes (docs/design.md, Roles).
 * An insert through a partitioned parent is routed to its partition (the DEFAULT one included)
 * with the parent's privileges alone, so no partition needs INSERT; and a row written straight
 * into a backlog, an in-progress day table or a restore's table would be dropped with it.
 */
const WRITER_INSERT_TABLES = [...TIME_SERIES_TABLES, 'markets', 'ingest_events'] as const;

/** What each group role must hold on a migrated database: what migration 0003 grants. */
const PRIVILEGES: Record<GroupRole, Partial<Record<GrantTarget, string[]>>> = {
  perps_reader: { database: ['CONNECT'], schema: ['USAGE'], table: ['SELECT'], 'future table': ['SELECT'], function: ['EXECUTE'] },
  perps_writer: {
    database: ['CONNECT'],
    schema: ['USAGE'],
    // INSERT only on WRITER_INSERT_TABLES (see MISSING_GRANTS_SQL).
    table: ['SELECT', 'INSERT'],
    sequence: ['USAGE', 'SELECT'],
    'future table': ['SELECT'],
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

/**
 * Privileges taken back by one statement of this run: what migration 0003 (or an older build's
 * migrate) gave that ingestion does not need, and PUBLIC's CONNECT on the database.
 */
export interface RoleRevoke {
  role: 'perps_writer' | 'PUBLIC';
  /** As in the statement: `INSERT`, `CONNECT`. */
  privileges: string;
  on: 'database' | 'table' | 'future table';
  /** The database, the tables, or (future tables) `public`. */
  objects: string[];
}

/** What the step did, for migrate's report. */
export interface RoleGrantsOutcome {
  grants: RoleGrant[];
  revokes: RoleRevoke[];
  /** The notices so far, with this step's own and without 0003's "roles skipped" one, which this step replaces. */
  notices: string[];
}

interface MissingGrant extends RoleGrant {
  /** False when the migrating user does not own the object: only an administrator can grant it. */
  grantable: boolean;
  statement: string;
}

interface ExcessPrivilege extends RoleRevoke {
  /** False when the migrating user does not own the object: only an administrator can revoke it. */
  revocable: boolean;
  statement: string;
}

/**
 * Gives `perps_reader` and `perps_writer` whatever they lack on this database, and takes back
 * what they must not hold, whenever the roles exist. 0003 skipped every grant when the migrating
 * user could not create roles, even when the roles already existed (made for another database of
 * the cluster); it gave perps_writer INSERT on every table, partitions and tables made later
 * included; and it can never change (applied migrations are checksummed). So `migrate` runs this
 * after the migration files, every time, and an older build's migrate (a rollback) is undone by
 * the next one. It reads the catalog first and changes only what differs, in one transaction
 * under the lock timeout: GRANT and REVOKE lock the grantee role on every version, and each table
 * (ACCESS SHARE) on PostgreSQL 18, so a long transaction there must not hang the run.
 * Granting on objects one owns needs no CREATEROLE. Missing roles, and privileges only an
 * administrator can change, become notices that name them and the statements to run.
 *
 * Once both roles exist (and so hold CONNECT), PUBLIC loses CONNECT on the database: any login
 * could otherwise connect and hold the maintenance lock (an advisory lock, which any session may
 * take) and stop every maintenance run.
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
  const excess = await excessPrivileges(client);
  for (const e of excess.filter((r) => !r.revocable)) notices.push(publicConnectNotice(e, who));
  const grants = missing.filter((g) => g.grantable);
  // After the grants, in the same transaction: the groups hold CONNECT before PUBLIC loses it.
  const revokes = excess.filter((r) => r.revocable);
  if (grants.length === 0 && revokes.length === 0) return { grants: [], revokes: [], notices };
  try {
    await runWithLockTimeout(client, 'role grants', ctx.settings, ctx.log, async () => {
      for (const change of [...grants, ...revokes]) await client.query(change.statement);
    });
  } catch (error) {
    if (isConnectionFailure(error)) throw connectionLostError('migrate', client, error, options.reportSoFar());
    throw new PartialFailureError(
      `the migrations are applied, but granting perps_reader and perps_writer their privileges failed (every migrate tries again): ${errorMessage(error)}`,
      { cause: error, report: options.reportSoFar() },
    );
  }
  const granted = grants.map(({ role, privileges, on, objects }) => ({ role, privileges, on, objects }));
  const revoked = revokes.map(({ role, privileges, on, objects }) => ({ role, privileges, on, objects }));
  notices.push(...grantedNotices(granted, who), ...revokedNotices(revoked, who));
  const counted = <T extends { objects: string[] }>(changes: T[]) => changes.map((c) => ({ ...c, objects: c.objects.length }));
  ctx.log.info('role grants applied', { grants: counted(granted), revokes: counted(revoked) });
  return { grants: granted, revokes: revoked, notices };
}

/**
 * Migration 0003's notice when the migrating user may not create roles. It asks for both roles
 * to be created even when they exist; this step says instead what is really missing.
 */
const SKIPPED_BY_0003 =
  /^roles skipped: user .* may not create roles; ask an administrator to create perps_reader and perps_writer \(see README\)$/s;

/** Who runs migrate, on which database, and whether it may create roles. */
export interface Identity {
  user: string;
  database: string;
  mayCreateRoles: boolean;
}

export async function readIdentity(client: pg.ClientBase): Promise<Identity> {
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
    [...WRITER_INSERT_TABLES],
  ]);
  return rows;
}

const MISSING_GRANTS_SQL = `
WITH wanted AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS w(role, target, privilege, ord)
),
me AS (SELECT oid FROM pg_roles WHERE rolname = current_user),
objects (target, name, owner, acl) AS (
  SELECT 'database', datname::text, datdba, datacl FROM pg_database WHERE datname = current_database()
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
  UNION ALL
  -- Named with its arguments, quoted by format() (text, not name: it is longer than 63 bytes); the statement takes it as it is.
  SELECT 'function', format('public.%I(%s)', p.proname, pg_get_function_identity_arguments(p.oid)), p.proowner, p.proacl
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'public' AND p.proname = 'record_job_run'
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
     AND NOT (w.role = 'perps_writer' AND w.target = 'table' AND w.privilege = 'INSERT' AND o.name <> ALL ($6::text[]))
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
                WHEN 'function' THEN 'GRANT %1$s ON FUNCTION %2$s TO %3$I'
              END, privileges, string_agg(CASE target WHEN 'function' THEN name ELSE quote_ident(name) END, ', ' ORDER BY name), role) AS statement
  FROM per_object
 GROUP BY role, target, privileges, grantable
 ORDER BY min(ord), privileges DESC`;

/**
 * What must go, one row per statement: perps_writer's INSERT on tables of ours outside
 * WRITER_INSERT_TABLES and in the migrating user's default privileges (both from migration 0003
 * or an older build), and PUBLIC's CONNECT on the database once both group roles exist (before
 * that, logins that are not in a group yet connect through PUBLIC). Only grants made by a role
 * the migrating user is a member of count: one made by someone else is not ours to revoke, and
 * would otherwise be reported on every run.
 */
async function excessPrivileges(client: pg.ClientBase): Promise<ExcessPrivilege[]> {
  const { rows } = await client.query<ExcessPrivilege>(EXCESS_PRIVILEGES_SQL, [[...WRITER_INSERT_TABLES], [...GROUP_ROLES]]);
  return rows;
}

const EXCESS_PRIVILEGES_SQL = `
WITH writer AS (SELECT oid FROM pg_roles WHERE rolname = 'perps_writer'),
me AS (SELECT oid FROM pg_roles WHERE rolname = current_user),
excess (role, target, name, privilege, revocable) AS (
  SELECT 'perps_writer', 'table', c.relname::text, 'INSERT', true
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN writer
   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> ALL ($1::text[])
     AND pg_has_role(c.relowner, 'MEMBER')
     AND EXISTS (SELECT FROM aclexplode(c.relacl) a
                  WHERE a.grantee = writer.oid AND a.privilege_type = 'INSERT' AND pg_has_role(a.grantor, 'MEMBER'))
  UNION ALL
  SELECT 'perps_writer', 'future table', n.nspname::text, 'INSERT', true
    FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace CROSS JOIN writer CROSS JOIN me
   WHERE n.nspname = 'public' AND d.defaclrole = me.oid AND d.defaclobjtype = 'r'
     AND EXISTS (SELECT FROM aclexplode(d.defaclacl) a WHERE a.grantee = writer.oid AND a.privilege_type = 'INSERT')
  UNION ALL
  SELECT 'PUBLIC', 'database', d.datname::text, 'CONNECT', pg_has_role(d.datdba, 'MEMBER')
    FROM pg_database d
   WHERE d.datname = current_database() AND has_database_privilege('public', d.oid, 'CONNECT')
     AND (SELECT count(*) FROM pg_roles WHERE rolname = ANY ($2::text[])) = cardinality($2::text[])
)
SELECT role, target AS "on", privilege AS privileges, revocable, array_agg(name ORDER BY name) AS objects,
       format(CASE target
                WHEN 'database' THEN 'REVOKE %1$s ON DATABASE %2$s FROM PUBLIC'
                WHEN 'table' THEN 'REVOKE %1$s ON TABLE %2$s FROM %3$I'
                WHEN 'future table' THEN 'ALTER DEFAULT PRIVILEGES IN SCHEMA %2$s REVOKE %1$s ON TABLES FROM %3$I'
              END, privilege, string_agg(quote_ident(name), ', ' ORDER BY name), role) AS statement
  FROM excess
 GROUP BY role, target, privilege, revocable
 ORDER BY CASE target WHEN 'table' THEN 1 WHEN 'future table' THEN 2 ELSE 3 END`;

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

/**
 * PUBLIC may still connect to a database the migrating user does not own: what an administrator
 * runs (the groups and the owner keep CONNECT through their own grants).
 */
function publicConnectNotice(excess: ExcessPrivilege, who: Identity): string {
  const database = quoteIdent(who.database);
  return (
    `PUBLIC may connect to database ${who.database}, which user ${who.user} does not own, so any login can hold the maintenance lock and stop maintenance: ` +
    `ask an administrator to run GRANT CONNECT ON DATABASE ${database} TO perps_reader, perps_writer, ${quoteIdent(who.user)}; ${excess.statement}; ` +
    'and to grant CONNECT to any other login that must connect (see README, Roles)'
  );
}

/** One notice per role whose privileges were taken back. */
function revokedNotices(revokes: RoleRevoke[], who: Identity): string[] {
  const notices: string[] = [];
  const writer = revokes.filter((r) => r.role === 'perps_writer');
  if (writer.length > 0) {
    const parts = writer.map((r) => `${r.privileges} on ${describeTarget(r, who.user)}`);
    notices.push(`revoked from perps_writer on database ${who.database} what ingestion does not need: ${parts.join('; ')}`);
  }
  if (revokes.some((r) => r.role === 'PUBLIC')) {
    notices.push(
      `revoked CONNECT on database ${who.database} from PUBLIC: only perps_reader, perps_writer, the owner and superusers may connect; ` +
        'make another login a member of perps_reader or perps_writer, or GRANT CONNECT ON DATABASE to it (see README, Roles)',
    );
  }
  return notices;
}

function describeTarget(grant: RoleGrant | RoleRevoke, user: string): string {
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
    case 'function':
      return `${count} ${count === 1 ? 'function' : 'functions'}`;
  }
}
