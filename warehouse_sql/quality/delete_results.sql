-- Forget one day's results of one suite before its latest validation is written (dq_results keeps
-- one row per day x suite x expectation: the day's latest validation).
DELETE FROM dq_results
WHERE run_date = %(run_date)s
  AND suite = %(suite)s;
