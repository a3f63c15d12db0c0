-- bap status: the accounting of every file day in a range (what the warehouse holds of each file).
-- rows_received = rows_loaded + rows_superseded + rows_quarantined + duplicates_dropped when loaded;
-- changed_by: the later file day that last changed this day's counts (corrections, late records).
SELECT run_date, status, rows_received, rows_loaded, rows_loaded_earlier, rows_corrections, rows_superseded,
       rows_quarantined, quarantine_reasons, duplicates_dropped, changed_by, changed_at, loaded_at, flow_run_id,
       source, message
FROM load_audit
WHERE run_date BETWEEN %(start)s AND %(end)s
ORDER BY run_date;
