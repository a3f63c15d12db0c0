-- Whether an earlier load of the file day left versions in the warehouse: facts it counts as its
-- own (rows_loaded, kept exact by every load) or superseded versions. A day emptied by an empty
-- file holds none.
SELECT EXISTS (SELECT 1 FROM load_audit
               WHERE run_date = %(file_date)s AND loaded_at IS NOT NULL AND coalesce(rows_loaded, 1) <> 0)
    OR EXISTS (SELECT 1 FROM fact_superseded WHERE file_date = %(file_date)s);
