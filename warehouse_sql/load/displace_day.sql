-- Take out of one window day's partition the facts sharing an id with the file's contested records
-- (README "Transaction identity and time"). One statement per existing window day, on its partition,
-- with its date key a constant: each contested id is one probe of that day's primary key. (Over the
-- parent with the window's keys as an array, PostgreSQL 15 plans a hash join over a scan of every
-- window day instead.)
WITH gone AS (
    DELETE FROM {part} AS f
    USING load_incoming AS i
    WHERE f.date_key = %(date_key)s AND f.transaction_id = i.transaction_id
    RETURNING f.date_key, f.transaction_id, f.customer_key, f.channel_key, f.city_key, f.transaction_ts, f.amount,
              f.status, f.processing_time_s, f.processing_delay_bucket, f.fee_percent, f.revenue, f.file_date
)
INSERT INTO _displaced (date_key, transaction_id, customer_key, channel_key, city_key, transaction_ts, amount, status,
                        processing_time_s, processing_delay_bucket, fee_percent, revenue, file_date)
SELECT * FROM gone;
