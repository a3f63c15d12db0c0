-- Daily totals per item of one breakdown dimension, read from the coarse rollup.
-- Used when no state or city filter is set. Grain: one row per day x item, where the item is
-- item_key (a channel_key, when %(dim)s = 'channel') or item_name (a region or segment);
-- both are NULL for no breakdown. Items are grouped by key, not by joined names: cheaper, and
-- the dashboard names them from the dimensions it has cached.
-- Every filter is a bound value; NULL means "All". A channel name that does not exist matches
-- nothing (its key is NULL).
SELECT a.date_key,
       CASE WHEN %(dim)s = 'channel' THEN a.channel_key END                        AS item_key,
       CASE %(dim)s WHEN 'region' THEN a.region WHEN 'segment' THEN a.segment END  AS item_name,
       sum(a.txn_count)::bigint                                                     AS txn_count,
       coalesce(sum(a.txn_count) FILTER (WHERE a.status = 'FAILED'), 0)::bigint     AS failed_count,
       coalesce(sum(a.revenue_sum) FILTER (WHERE a.status = 'SUCCESS'), 0)::float8  AS success_revenue,
       sum(a.processing_time_sum)::float8                                           AS processing_time_s_sum
FROM agg_daily_region AS a
WHERE a.date_key BETWEEN %(start_key)s AND %(end_key)s
  AND (%(region)s::text IS NULL OR a.region = %(region)s::text)
  AND (%(channel)s::text IS NULL
       OR a.channel_key = (SELECT ch.channel_key FROM dim_channel AS ch WHERE ch.channel_name = %(channel)s::text))
  AND (%(segment)s::text IS NULL OR a.segment = %(segment)s::text)
GROUP BY 1, 2, 3
ORDER BY 1;
