-- The most recent failed expectations, newest validated day first. Grain: one row per failure.
SELECT run_date,
       suite,
       expectation,
       severity,
       unexpected_count,
       element_count,
       observed_value,
       validated_at
FROM dq_results
WHERE NOT success
ORDER BY run_date DESC, severity, suite, expectation
LIMIT %(limit)s;
