-- bap status: the accounting of every day in a range, latest attempt first in importance.
SELECT run_date, status, rows_received, rows_loaded, rows_quarantined, quarantine_reasons,
       duplicates_dropped, loaded_at, flow_run_id, source, message
FROM load_audit
WHERE run_date BETWEEN %(start)s AND %(end)s
ORDER BY run_date;
