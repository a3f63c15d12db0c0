-- Why rows were quarantined over a period of run days. Grain: one row per reason.
SELECT reject_reason, count(*) AS row_count
FROM quarantine_rows
WHERE run_date BETWEEN %(start)s AND %(end)s
GROUP BY reject_reason
ORDER BY row_count DESC, reject_reason;
