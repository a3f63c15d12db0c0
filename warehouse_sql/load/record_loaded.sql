-- The file day's accounting after a successful load; its row counts follow in apply_count_changes.sql
-- (they describe what the warehouse holds, which later file days may change).
INSERT INTO load_audit AS a (run_date, status, source, content_sha256, load_fingerprint, rows_received,
                             rows_quarantined, quarantine_reasons, duplicates_dropped, flow_run_id, started_at,
                             finished_at, loaded_at, message)
VALUES (%(run_date)s, 'loaded', %(source)s, %(sha256)s, %(fingerprint)s, %(received)s, %(quarantined)s,
        %(reasons)s::jsonb, %(duplicates)s, %(flow_run_id)s, %(started_at)s, now(), now(), %(message)s)
ON CONFLICT (run_date) DO UPDATE
SET status = 'loaded', source = EXCLUDED.source, content_sha256 = EXCLUDED.content_sha256,
    load_fingerprint = EXCLUDED.load_fingerprint, rows_received = EXCLUDED.rows_received,
    rows_quarantined = EXCLUDED.rows_quarantined, quarantine_reasons = EXCLUDED.quarantine_reasons,
    duplicates_dropped = EXCLUDED.duplicates_dropped, flow_run_id = EXCLUDED.flow_run_id,
    started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, loaded_at = EXCLUDED.loaded_at,
    message = EXCLUDED.message;
