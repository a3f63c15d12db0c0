-- "Data as of": the last day whose rows are in the warehouse and when they landed, and the latest
-- run attempt (which may have failed: a failed re-run keeps the day's earlier rows and loaded_at).
-- Grain: one row (NULLs before the first load).
WITH last_loaded AS (
    SELECT run_date, loaded_at
    FROM load_audit
    WHERE loaded_at IS NOT NULL
    ORDER BY run_date DESC
    LIMIT 1
),
last_run AS (
    SELECT run_date, status, coalesce(finished_at, started_at, loaded_at) AS run_at, message
    FROM load_audit
    ORDER BY coalesce(finished_at, started_at, loaded_at) DESC NULLS LAST, run_date DESC
    LIMIT 1
)
SELECT l.run_date   AS last_loaded_day,
       l.loaded_at  AS last_loaded_at,
       r.run_date   AS last_run_day,
       r.status     AS last_run_status,
       r.run_at     AS last_run_at,
       r.message    AS last_run_message
FROM (SELECT 1) AS one
LEFT JOIN last_loaded AS l ON true
LEFT JOIN last_run AS r ON true;
