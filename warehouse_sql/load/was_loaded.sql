-- Whether an earlier load of the file day left versions in the warehouse.
SELECT EXISTS (SELECT 1 FROM load_audit WHERE run_date = %(file_date)s AND loaded_at IS NOT NULL)
    OR EXISTS (SELECT 1 FROM fact_superseded WHERE file_date = %(file_date)s);
