-- Days that have quarantined rows, newest first, with their counts. Grain: one row per day.
SELECT run_date, count(*) AS quarantined_rows
FROM quarantine_rows
GROUP BY run_date
ORDER BY run_date DESC
LIMIT %(limit)s;
