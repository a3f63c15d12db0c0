-- A re-run whose rows equal what the warehouse already holds: nothing to replace, the attempt is recorded.
UPDATE load_audit
SET flow_run_id = %(flow_run_id)s, started_at = %(started_at)s, finished_at = now(),
    source = %(source)s, content_sha256 = %(sha256)s,
    message = 'unchanged since the last load; nothing replaced'
WHERE run_date = %(run_date)s;
