-- The history of runs: one row per invocation of an operation (Lambda or the local runner),
-- written by the handler when the run ends (functions/lambda/job-history.ts), read by `stats`
-- (the last run, the last success, overdue). Bounded: each recording keeps the newest
-- 100 runs of its operation and its newest success that did work, and deletes the rest in the same statement.
-- Owned by the maintenance user; perps_reader and perps_writer may read it; nobody writes it
-- but through record_job_run below (the owner could, and does not).
CREATE TABLE job_runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operation text NOT NULL CHECK (operation ~ '^[a-z]{1,32}$'),
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
  origin text NOT NULL CHECK (origin IN ('lambda', 'runner')),
  -- False for a dry run (`dryRun`) and a run skipped because the maintenance lock was busy: such
  -- a run changed nothing, and is no success of the job (stats does not count it as one).
  did_work boolean NOT NULL DEFAULT true,
  -- The report's counts: small by construction, and refused above 2 kB.
  summary jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(summary) = 'object' AND octet_length(summary::text) <= 2048),
  error text CHECK (char_length(error) <= 500),
  CHECK (finished_at >= started_at)
);
-- Every read and every trim is per operation, newest first: at most ~102 rows per operation.
CREATE INDEX job_runs_operation_started ON job_runs (operation, started_at);

-- Records one run and trims its operation's history, in one statement, as the owner (SECURITY
-- DEFINER): the stats login (perps_reader) may not write the table, but records its own runs
-- through this. The server's clock sets the times (finished now, started duration_ms before,
-- at most 7 days), so no caller can write a run in the future that would stay newest forever.
-- A caller that is not a member of the table's owner may record `stats` runs only: a reader
-- cannot forge a maintenance run's success, nor push any history but stats' out (and stats'
-- history keeps its newest success). search_path is fixed and every name qualified, so nothing
-- a caller creates can stand in for what the function uses. EXECUTE: perps_reader only.
CREATE FUNCTION record_job_run(
  p_operation text,
  p_duration_ms bigint,
  p_outcome text,
  p_origin text,
  p_did_work boolean,
  p_summary jsonb,
  p_error text
) RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $record$
DECLARE
  keep CONSTANT integer := 100;
  caller_owns boolean;
BEGIN
  SELECT pg_has_role(session_user, c.relowner, 'USAGE') INTO caller_owns
    FROM pg_class c WHERE c.oid = 'public.job_runs'::regclass;
  IF p_operation IS DISTINCT FROM 'stats' AND NOT caller_owns THEN
    RAISE EXCEPTION 'record_job_run: login % may record stats runs only (operation %)', session_user, p_operation
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_duration_ms IS NULL OR p_duration_ms < 0 OR p_duration_ms > 7 * 86400000 THEN
    RAISE EXCEPTION 'record_job_run: duration_ms % is not from 0 to 7 days', p_duration_ms
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  WITH recorded AS (
    INSERT INTO public.job_runs (operation, started_at, finished_at, outcome, origin, did_work, summary, error)
    VALUES (p_operation, now() - p_duration_ms * interval '1 millisecond', now(), p_outcome, p_origin, coalesce(p_did_work, true),
            coalesce(p_summary, '{}'), left(p_error, 500))
    RETURNING id
  )
  -- Sees the table as it was before this statement: keep - 1 older runs plus the new one.
  DELETE FROM public.job_runs r
   WHERE r.operation = p_operation
     AND r.id NOT IN (SELECT k.id FROM public.job_runs k WHERE k.operation = p_operation
                       ORDER BY k.started_at DESC, k.id DESC LIMIT keep - 1)
     AND r.id IS DISTINCT FROM (SELECT s.id FROM public.job_runs s WHERE s.operation = p_operation AND s.outcome = 'succeeded' AND s.did_work
                                 ORDER BY s.started_at DESC, s.id DESC LIMIT 1)
     AND EXISTS (SELECT FROM recorded);
END
$record$;

REVOKE ALL ON FUNCTION record_job_run(text, bigint, text, text, boolean, jsonb, text) FROM PUBLIC;

-- Reading it is granted as for every table of ours (0003's default privileges, and migrate's
-- role grants on every run): perps_reader and perps_writer SELECT. Writing it is nobody's, and
-- recording through the function perps_reader's alone. (0003's default privileges of an older
-- build gave perps_writer INSERT on new tables: take it back here; migrate's role grants would
-- too, after the files.)
DO $history$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'perps_writer') THEN
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON job_runs FROM perps_writer;
  END IF;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'perps_reader') THEN
    GRANT EXECUTE ON FUNCTION record_job_run(text, bigint, text, text, boolean, jsonb, text) TO perps_reader;
  END IF;
END
$history$;
