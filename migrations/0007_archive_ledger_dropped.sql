-- When prune dropped the day partition an archive ledger row stands for: `dropped_at`. From then
-- on the archived object is the day's only copy. A late row of that day makes the partitions run
-- create the day again with that row alone; archive must not write that partition over the
-- object (it would replace the day's rows with one), so it refuses such a day until `restore`
-- brings the archived rows back beside the late ones (restore clears dropped_at). NULL: the
-- partition the row was written from may still exist. Additive: deployed ledgers keep their rows.
ALTER TABLE archive_ledger ADD COLUMN dropped_at timestamptz;
