-- The day's quarantine in the warehouse is the latest load's, every original field kept as text.
DELETE FROM quarantine_rows WHERE run_date = %(run_date)s;
INSERT INTO quarantine_rows (run_date, source_file, source_row, reject_reason, transaction_id, raw_record)
SELECT %(run_date)s, source_file, source_row, reject_reason, transaction_id,
       jsonb_build_object(
           'transaction_id', transaction_id, 'transaction_ts', transaction_ts, 'customer_id', customer_id,
           'city', city, 'state', state, 'channel', channel, 'amount', amount, 'status', status,
           'processing_time_s', processing_time_s)
FROM _quarantine_stage;
