-- Why the rows of one day were quarantined. Grain: one row per reason.
SELECT reject_reason, count(*) AS row_count
FROM quarantine_rows
WHERE run_date = %(run_date)s
GROUP BY reject_reason
ORDER BY row_count DESC, reject_reason;
