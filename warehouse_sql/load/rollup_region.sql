-- Rebuild the coarse rollup for one day from the fine one (runs inside the load transaction).
WITH day_cells AS (
    SELECT a.date_key, a.channel_key, ci.region, a.segment, a.status,
           a.txn_count, a.amount_sum, a.revenue_sum, a.processing_time_sum
    FROM agg_daily_city AS a
    JOIN dim_city AS ci ON ci.city_key = a.city_key
    WHERE a.date_key = %(date_key)s
)
INSERT INTO agg_daily_region (date_key, channel_key, region, segment, status,
                              txn_count, amount_sum, revenue_sum, processing_time_sum)
SELECT date_key, channel_key, region, segment, status,
       sum(txn_count), sum(amount_sum), sum(revenue_sum), sum(processing_time_sum)
FROM day_cells
GROUP BY date_key, channel_key, region, segment, status;
