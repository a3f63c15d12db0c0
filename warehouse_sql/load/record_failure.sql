-- A failed or blocked attempt. The counts and loaded_at of the last good load stay as they are:
-- they describe the rows the warehouse still holds for the day.
INSERT INTO load_audit AS a (run_date, status, source, content_sha256, rows_received, rows_quarantined,
                             quarantine_reasons, duplicates_dropped, flow_run_id, started_at, finished_at, message)
VALUES (%(run_date)s, %(status)s, %(source)s, %(sha256)s, %(received)s, %(quarantined)s,
        %(reasons)s::jsonb, %(duplicates)s, %(flow_run_id)s, %(started_at)s, now(), %(message)s)
ON CONFLICT (run_date) DO UPDATE
SET status = EXCLUDED.status, flow_run_id = EXCLUDED.flow_run_id, started_at = EXCLUDED.started_at,
    finished_at = EXCLUDED.finished_at, message = EXCLUDED.message;
INSERT INTO load_runs (run_date, status, source, content_sha256, rows_received, rows_quarantined,
                       quarantine_reasons, duplicates_dropped, flow_run_id, started_at, finished_at, message)
VALUES (%(run_date)s, %(status)s, %(source)s, %(sha256)s, %(received)s, %(quarantined)s,
        %(reasons)s::jsonb, %(duplicates)s, %(flow_run_id)s, %(started_at)s, now(), %(message)s);
