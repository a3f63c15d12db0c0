SELECT coalesce(rows_loaded, 0), coalesce(rows_loaded_earlier, 0), coalesce(rows_corrections, 0),
       coalesce(rows_superseded, 0)
FROM load_audit WHERE run_date = %(run_date)s;
