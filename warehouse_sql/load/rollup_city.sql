-- Rebuild the fine rollup for one day from that day's facts (runs inside the load transaction).
WITH day_facts AS (
    SELECT f.date_key, f.channel_key, f.city_key, c.segment, f.status,
           f.amount, f.revenue, f.processing_time_s
    FROM fact_transactions AS f
    JOIN dim_customer AS c ON c.customer_key = f.customer_key
    WHERE f.date_key = %(date_key)s
)
INSERT INTO agg_daily_city (date_key, channel_key, city_key, segment, status,
                            txn_count, amount_sum, revenue_sum, processing_time_sum)
SELECT date_key, channel_key, city_key, segment, status,
       count(*), sum(amount), sum(revenue), sum(processing_time_s)
FROM day_facts
GROUP BY date_key, channel_key, city_key, segment, status;
