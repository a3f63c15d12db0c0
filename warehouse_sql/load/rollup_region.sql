-- The coarse rollup of the given days, rebuilt from the fine one (a few thousand rows a day).
DELETE FROM agg_daily_region WHERE date_key = ANY(%(days)s::int[]);
INSERT INTO agg_daily_region (date_key, channel_key, region, segment, status,
                              txn_count, amount_sum, revenue_sum, processing_time_sum)
SELECT a.date_key, a.channel_key, ci.region, a.segment, a.status,
       sum(a.txn_count), sum(a.amount_sum), sum(a.revenue_sum), sum(a.processing_time_sum)
FROM agg_daily_city AS a
JOIN dim_city AS ci ON ci.city_key = a.city_key
WHERE a.date_key = ANY(%(days)s::int[])
GROUP BY a.date_key, a.channel_key, ci.region, a.segment, a.status;
