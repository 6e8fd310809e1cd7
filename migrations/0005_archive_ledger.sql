-- The archive ledger: one row per day partition archived to Parquet (the `archive` operation),
-- written only after the object was read back and verified. `prune` refuses to drop a day
-- partition without a row here; `restore` reads the object named here.
-- `source_modifications` is the partition's insert+update+delete counter
-- (pg_stat_user_tables) when it was archived: a higher one later means late rows, and the day is
-- archived again. Owned by the maintenance user; perps_reader may read it; perps_writer may not
-- write it (a forged row could let prune drop a day that was never archived).
CREATE TABLE archive_ledger (
  table_name text NOT NULL,
  day date NOT NULL,
  location text NOT NULL,
  object_key text NOT NULL,
  rows bigint NOT NULL CHECK (rows >= 0),
  bytes bigint NOT NULL CHECK (bytes > 0),
  checksum text NOT NULL,
  source_modifications bigint,
  archived_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, day)
);

-- Migration 0003's default privileges gave perps_writer INSERT on this new table: take it back.
DO $ledger$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'perps_writer') THEN
    REVOKE ALL ON archive_ledger FROM perps_writer;
  END IF;
END
$ledger$;
