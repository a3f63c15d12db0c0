-- Row count and an md5 over every fact row (natural keys, so two warehouses that loaded the same
-- data in a different order compare equal).
WITH rows AS (
    SELECT concat_ws('|', f.date_key, f.transaction_id, f.file_date, cu.customer_id, cu.valid_from, ch.channel_name, ci.city_name, ci.state,
                     f.transaction_ts, f.amount, f.status, f.processing_time_s, f.processing_delay_bucket,
                     f.fee_percent, f.revenue) AS line
    FROM fact_transactions AS f
    JOIN dim_customer AS cu ON cu.customer_key = f.customer_key
    JOIN dim_channel AS ch ON ch.channel_key = f.channel_key
    JOIN dim_city AS ci ON ci.city_key = f.city_key
    WHERE f.date_key BETWEEN %(start)s AND %(end)s
)
SELECT count(*), md5(string_agg(line, E'\n' ORDER BY line)) FROM rows;
