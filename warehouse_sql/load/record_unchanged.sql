-- A re-run whose rows equal what the warehouse already holds: nothing to replace, the attempt is recorded.
UPDATE load_audit
SET flow_run_id = %(flow_run_id)s, started_at = %(started_at)s, finished_at = now(),
    message = 'unchanged since the last load; nothing replaced'
WHERE run_date = %(run_date)s;
INSERT INTO load_runs (run_date, status, source, content_sha256, rows_received, rows_loaded, rows_quarantined,
                       quarantine_reasons, duplicates_dropped, flow_run_id, started_at, finished_at, message)
SELECT run_date, 'loaded', %(source)s, %(sha256)s, rows_received, rows_loaded, rows_quarantined,
       quarantine_reasons, duplicates_dropped, %(flow_run_id)s, %(started_at)s, now(), 'unchanged'
FROM load_audit WHERE run_date = %(run_date)s;
