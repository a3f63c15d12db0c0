-- bap gaps: the days of a range that the warehouse does not hold as loaded.
-- Grain: one row per day in [start, end] whose latest attempt is not 'loaded' - never attempted
-- ('missing'), or 'failed' / 'blocked'. A failed re-run of a day loaded before keeps its old rows
-- (has_rows = true) but is still a gap: its latest source did not load.
WITH days AS (
    SELECT d::date AS run_date
    FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS d
),
audited AS (
    SELECT days.run_date,
           coalesce(a.status, 'missing') AS status,
           a.message,
           coalesce(a.finished_at, a.started_at) AS last_attempt_at,
           a.loaded_at IS NOT NULL AS has_rows
    FROM days
    LEFT JOIN load_audit AS a ON a.run_date = days.run_date
)
SELECT run_date, status, message, last_attempt_at, has_rows
FROM audited
WHERE status <> 'loaded'
ORDER BY run_date;
