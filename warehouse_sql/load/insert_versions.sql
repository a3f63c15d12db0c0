-- Winners into the fact table (each into the partition of its own day; the file day's own rows into
-- {fresh} when its partition is new), the others kept as superseded.
INSERT INTO fact_transactions (date_key, transaction_id, customer_key, channel_key, city_key, transaction_ts, amount,
                               status, processing_time_s, processing_delay_bucket, fee_percent, revenue, file_date)
SELECT date_key, transaction_id, customer_key, channel_key, city_key, transaction_ts, amount,
       status, processing_time_s, processing_delay_bucket, fee_percent, revenue, file_date
FROM _added
WHERE date_key <> %(fresh_key)s;
INSERT INTO {fresh} (date_key, transaction_id, customer_key, channel_key, city_key, transaction_ts, amount,
                     status, processing_time_s, processing_delay_bucket, fee_percent, revenue, file_date)
SELECT date_key, transaction_id, customer_key, channel_key, city_key, transaction_ts, amount,
       status, processing_time_s, processing_delay_bucket, fee_percent, revenue, file_date
FROM _added
WHERE date_key = %(fresh_key)s;
INSERT INTO fact_superseded (transaction_id, file_date, date_key, customer_key, channel_key, city_key, transaction_ts,
                             amount, status, processing_time_s, processing_delay_bucket, fee_percent, revenue)
SELECT transaction_id, file_date, date_key, customer_key, channel_key, city_key, transaction_ts,
       amount, status, processing_time_s, processing_delay_bucket, fee_percent, revenue
FROM _pool
WHERE NOT wins;
