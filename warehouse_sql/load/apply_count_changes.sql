-- Add a load's change to a file day's accounting; a day changed by a later file day says so.
UPDATE load_audit
SET rows_loaded = coalesce(rows_loaded, 0) + %(loaded)s,
    rows_loaded_earlier = coalesce(rows_loaded_earlier, 0) + %(loaded_earlier)s,
    rows_corrections = coalesce(rows_corrections, 0) + %(corrections)s,
    rows_superseded = coalesce(rows_superseded, 0) + %(superseded)s,
    changed_by = CASE WHEN run_date < %(by)s THEN %(by)s ELSE changed_by END,
    changed_at = CASE WHEN run_date < %(by)s THEN now() ELSE changed_at END
WHERE run_date = %(file_date)s;
