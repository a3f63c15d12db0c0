-- Daily totals per item of one breakdown dimension, read from the coarse rollup.
-- Used when no state or city filter is set. Grain: one row per day x item
-- (item = the channel, region or segment named by %(dim)s, or 'All' for no breakdown).
-- Every filter is a bound value; NULL means "All".
WITH cells AS (
    SELECT a.date_key,
           CASE %(dim)s
               WHEN 'channel' THEN ch.channel_name::text
               WHEN 'region'  THEN a.region::text
               WHEN 'segment' THEN a.segment::text
               ELSE 'All'
           END AS item,
           a.status,
           a.txn_count,
           a.revenue_sum,
           a.processing_time_sum
    FROM agg_daily_region AS a
    JOIN dim_channel AS ch ON ch.channel_key = a.channel_key
    WHERE a.date_key BETWEEN %(start_key)s AND %(end_key)s
      AND (%(region)s::text IS NULL OR a.region = %(region)s::text)
      AND (%(channel)s::text IS NULL OR ch.channel_name = %(channel)s::text)
      AND (%(segment)s::text IS NULL OR a.segment = %(segment)s::text)
)
SELECT date_key,
       item,
       sum(txn_count)                                              AS txn_count,
       coalesce(sum(txn_count) FILTER (WHERE status = 'FAILED'), 0)    AS failed_count,
       coalesce(sum(revenue_sum) FILTER (WHERE status = 'SUCCESS'), 0) AS success_revenue,
       sum(processing_time_sum)                                    AS processing_time_s_sum
FROM cells
GROUP BY date_key, item
ORDER BY date_key, item;
