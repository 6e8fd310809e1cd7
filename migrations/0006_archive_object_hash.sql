-- The archive ledger records what the archived object's bytes were when archive verified it:
-- `object_sha256`, the hex SHA-256 of the whole object, computed while it was written and
-- checked again by reading the object back. `prune` drops a day partition only when the object
-- still hashes to it (a same-size overwrite with an intact footer keeps the partition) and the
-- partition's rows still have the ledger's `checksum`. Rows written before this migration have
-- no hash (NULL): prune keeps those days, and the next `archive` run archives them again.
-- Additive: deployed ledgers keep their rows.
ALTER TABLE archive_ledger ADD COLUMN object_sha256 text CHECK (object_sha256 ~ '^[0-9a-f]{64}$');
