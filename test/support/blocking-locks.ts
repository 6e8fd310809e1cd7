/**
 * A predicate over `l` (pg_locks) joined to `c` (pg_class): a granted lock that holds inserts
 * back. On a partitioned table or a partition, a mode that conflicts with ROW EXCLUSIVE (what an
 * INSERT takes); on a referenced table, one that conflicts with ROW SHARE (what an insert's
 * foreign-key check takes).
 */
export const HOLDS_INSERTS_BACK = `l.locktype = 'relation' AND l.granted
  AND (((c.relkind = 'p' OR c.relispartition) AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'))
    OR (c.relname IN ('exchanges', 'markets') AND l.mode IN ('ExclusiveLock', 'AccessExclusiveLock')))`;
