-- The attempt in the append-only history, with the day's accounting as it stands after it.
INSERT INTO load_runs (run_date, status, source, content_sha256, rows_received, rows_loaded, rows_loaded_earlier,
                       rows_corrections, rows_superseded, rows_quarantined, quarantine_reasons, duplicates_dropped,
                       flow_run_id, started_at, finished_at, message)
SELECT run_date, 'loaded', source, content_sha256, rows_received, rows_loaded, rows_loaded_earlier,
       rows_corrections, rows_superseded, rows_quarantined, quarantine_reasons, duplicates_dropped,
       flow_run_id, started_at, now(), %(message)s
FROM load_audit WHERE run_date = %(run_date)s;
