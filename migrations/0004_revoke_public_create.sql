-- PostgreSQL 12 to 14 let every role create objects in schema public (15 and later do not), so
-- perps_writer and perps_reader could create tables there, and an object planted in public can
-- shadow one that the maintenance user finds through search_path (CVE-2018-1058). Revoke it from
-- PUBLIC, as PostgreSQL 15 does; the schema's owner keeps CREATE through ownership. Only the owner
-- (or a superuser) may: otherwise a NOTICE says what to ask an administrator for, and the
-- migration carries on (a no-op REVOKE would only print a warning nobody reads).
DO $revoke$
DECLARE
  may_revoke boolean;
BEGIN
  SELECT r.rolsuper OR pg_has_role(current_user, n.nspowner, 'MEMBER') INTO may_revoke
    FROM pg_namespace n CROSS JOIN pg_roles r
   WHERE n.nspname = 'public' AND r.rolname = current_user;
  IF NOT may_revoke THEN
    RAISE NOTICE 'CREATE on schema public not revoked from PUBLIC: user % does not own schema public; ask an administrator to run REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT CREATE ON SCHEMA public TO % (see README, Roles)', current_user, current_user;
    RETURN;
  END IF;
  REVOKE CREATE ON SCHEMA public FROM PUBLIC;
END
$revoke$;
