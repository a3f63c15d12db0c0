-- The versions that are facts after the load: the contested ids' winners and the file's other records.
-- A view (dropped at the end of the load): the file's records are not copied once more.
CREATE TEMP VIEW _added AS
SELECT p.date_key, p.transaction_id, p.customer_key, p.channel_key, p.city_key, p.transaction_ts, p.amount,
       p.status, p.processing_time_s, p.processing_delay_bucket, p.fee_percent, p.revenue, p.file_date, p.corrects
FROM _pool AS p
WHERE p.wins
UNION ALL
SELECT i.date_key, i.transaction_id, i.customer_key, i.channel_key, i.city_key, i.transaction_ts, i.amount,
       i.status, i.processing_time_s, i.processing_delay_bucket, i.fee_percent, i.revenue, i.file_date, false
FROM load_incoming AS i
WHERE NOT EXISTS (SELECT 1 FROM _pool AS p WHERE p.transaction_id = i.transaction_id);
