-- Data-quality history: one row per day x suite x expectation, from the day's latest validation.
CREATE TABLE IF NOT EXISTS dq_results (
    run_date          date         NOT NULL,
    suite             varchar(50)  NOT NULL,   -- raw | processed | warehouse
    expectation       varchar(200) NOT NULL,   -- stable id, e.g. expect_column_values_to_not_be_null:transaction_id
    severity          varchar(10)  NOT NULL CHECK (severity IN ('critical', 'warning')),
    success           boolean      NOT NULL,
    observed_value    text,                    -- JSON text of GX's observed value
    unexpected_count  bigint,
    element_count     bigint,
    run_id            text         NOT NULL,   -- Prefect flow run id (or a local run id)
    validated_at      timestamptz  NOT NULL,
    data_docs_url     text,
    PRIMARY KEY (run_date, suite, expectation)
);
CREATE INDEX IF NOT EXISTS dq_results_validated_at_idx ON dq_results (validated_at);
CREATE INDEX IF NOT EXISTS dq_results_failed_idx ON dq_results (run_date) WHERE NOT success;
