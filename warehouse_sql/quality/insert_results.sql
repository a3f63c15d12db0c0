-- One day's validation of one suite into dq_results. Grain: one row per day x suite x expectation.
-- Params: run_date, suite, run_id, validated_at, data_docs_url, outcomes (a JSON array with one
-- object per expectation: expectation, severity, success, observed_value, unexpected_count, element_count).
WITH outcomes AS (
    SELECT *
    FROM jsonb_to_recordset(%(outcomes)s::jsonb) AS o (
        expectation      text,
        severity         text,
        success          boolean,
        observed_value   text,
        unexpected_count bigint,
        element_count    bigint
    )
)
INSERT INTO dq_results (run_date, suite, expectation, severity, success, observed_value,
                        unexpected_count, element_count, run_id, validated_at, data_docs_url)
SELECT %(run_date)s, %(suite)s, expectation, severity, success, observed_value,
       unexpected_count, element_count, %(run_id)s, %(validated_at)s, %(data_docs_url)s
FROM outcomes;
