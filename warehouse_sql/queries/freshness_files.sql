-- The freshness panel's per-file accounting: the latest loaded file days, newest first.
-- Grain: one row per file day (load_audit), at most %(limit)s rows.
-- rows_received = rows_loaded + rows_superseded + rows_quarantined + duplicates_dropped, where
-- rows_loaded_earlier (late records and corrections loaded into days before the file's) and
-- rows_corrections (records replacing an earlier file day's version, in any day) are parts of
-- rows_loaded. Counts written before migration 006 are NULL and read as 0.
-- changed_by / changed_at: the later file day that last changed this day's counts, and when.
SELECT run_date,
       rows_received,
       rows_loaded,
       coalesce(rows_loaded_earlier, 0) AS rows_loaded_earlier,
       coalesce(rows_corrections, 0)    AS rows_corrections,
       coalesce(rows_superseded, 0)     AS rows_superseded,
       coalesce(rows_quarantined, 0)    AS rows_quarantined,
       coalesce(duplicates_dropped, 0)  AS duplicates_dropped,
       changed_by,
       changed_at
FROM load_audit
WHERE loaded_at IS NOT NULL
ORDER BY run_date DESC
LIMIT %(limit)s;
