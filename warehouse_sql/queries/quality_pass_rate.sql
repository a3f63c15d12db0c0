-- Share of passed expectations per suite and validated day, from the quality history.
-- Grain: one row per run_date x suite.
SELECT run_date,
       suite,
       count(*)                                   AS expectations,
       count(*) FILTER (WHERE success)            AS passed,
       count(*) FILTER (WHERE NOT success AND severity = 'critical') AS critical_failed
FROM dq_results
WHERE run_date BETWEEN %(start)s AND %(end)s
GROUP BY run_date, suite
ORDER BY run_date, suite;
