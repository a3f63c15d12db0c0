-- Every version of a transaction id the load touches that more than the file holds, ranked:
-- the version of the latest file day wins; `corrects`: an earlier file day holds a version too.
CREATE TEMP TABLE _pool ON COMMIT DROP AS
WITH contested AS (
    SELECT transaction_id FROM _displaced
    UNION
    SELECT transaction_id FROM _dropped
),
versions AS (
    SELECT i.transaction_id, i.file_date, i.date_key, i.customer_key, i.channel_key, i.city_key, i.transaction_ts,
           i.amount, i.status, i.processing_time_s, i.processing_delay_bucket, i.fee_percent, i.revenue
    FROM load_incoming AS i
    WHERE i.transaction_id IN (SELECT transaction_id FROM contested)
    UNION ALL
    SELECT d.transaction_id, d.file_date, d.date_key, d.customer_key, d.channel_key, d.city_key, d.transaction_ts,
           d.amount, d.status, d.processing_time_s, d.processing_delay_bucket, d.fee_percent, d.revenue
    FROM _displaced AS d
    WHERE d.file_date <> %(file_date)s
    UNION ALL
    SELECT s.transaction_id, s.file_date, s.date_key, s.customer_key, s.channel_key, s.city_key, s.transaction_ts,
           s.amount, s.status, s.processing_time_s, s.processing_delay_bucket, s.fee_percent, s.revenue
    FROM _dropped AS s
    WHERE s.file_date <> %(file_date)s
)
SELECT v.*,
       row_number() OVER (PARTITION BY v.transaction_id ORDER BY v.file_date DESC) = 1 AS wins,
       min(v.file_date) OVER (PARTITION BY v.transaction_id) < v.file_date AS corrects
FROM versions AS v;
