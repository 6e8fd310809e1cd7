-- Least-privilege group roles (NOLOGIN): grant them to login users, for example
--   GRANT perps_reader TO grafana;   GRANT perps_writer TO ingester;
-- Roles are cluster-wide, so creation tolerates a role that another database already made.
-- When the migrating user may not create roles, a NOTICE says so and the migration carries on.
DO $roles$
DECLARE
  can_create boolean;
BEGIN
  SELECT rolsuper OR rolcreaterole INTO can_create FROM pg_roles WHERE rolname = current_user;
  IF NOT can_create THEN
    RAISE NOTICE 'roles skipped: user % may not create roles; ask an administrator to create perps_reader and perps_writer (see README)', current_user;
    RETURN;
  END IF;

  BEGIN
    CREATE ROLE perps_reader NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;
  BEGIN
    CREATE ROLE perps_writer NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;

  EXECUTE format('GRANT CONNECT ON DATABASE %I TO perps_reader, perps_writer', current_database());
  GRANT USAGE ON SCHEMA public TO perps_reader, perps_writer;
  GRANT SELECT ON ALL TABLES IN SCHEMA public TO perps_reader;
  GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO perps_writer;
  GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO perps_writer;
  -- The migration ledger is the maintenance user's alone: a writer adding a row could make a
  -- future migration be skipped.
  REVOKE ALL ON perps_schema_migrations FROM perps_reader, perps_writer;
  -- Partitions are created later by the maintenance user (the one running this migration):
  -- default privileges make every table it creates readable and writable by the groups.
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO perps_reader;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO perps_writer;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO perps_writer;
END
$roles$;
