CREATE TEMP TABLE IF NOT EXISTS _quarantine_stage (
    transaction_id text, transaction_ts text, customer_id text, city text, state text, channel text,
    amount text, status text, processing_time_s text, source_file text, source_row bigint, reject_reason text
) ON COMMIT DROP;
