-- The rows a load added without contest (its own day's in {part}, earlier days' in _clear), as
-- `_added` for the rollup (rollup_city.sql); run before any contested version is inserted.
CREATE TEMP VIEW _added AS
SELECT date_key, transaction_id, customer_key, channel_key, city_key, transaction_ts, amount, status,
       processing_time_s, processing_delay_bucket, fee_percent, revenue, file_date, false AS corrects
FROM {part}
WHERE date_key = %(date_key)s AND file_date = %(file_date)s
UNION ALL
SELECT date_key, transaction_id, customer_key, channel_key, city_key, transaction_ts, amount, status,
       processing_time_s, processing_delay_bucket, fee_percent, revenue, file_date, false
FROM _clear;
