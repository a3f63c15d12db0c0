-- Period totals per item of the comparison dimension, read from the fine rollup.
-- Used when a state or city filter is set, or the comparison is by state or city.
-- Grain: one row per item (item_key = city_key or channel_key, or item_name = segment).
-- %(city_keys)s: the cities the geography filters allow (NULL = every city). Every other filter
-- is a bound value where NULL means "All"; an unknown channel name matches nothing.
SELECT CASE WHEN %(dim)s IN ('region', 'state', 'city') THEN a.city_key
            WHEN %(dim)s = 'channel' THEN a.channel_key END                         AS item_key,
       CASE WHEN %(dim)s = 'segment' THEN a.segment END                             AS item_name,
       sum(a.txn_count)::bigint                                                     AS txn_count,
       coalesce(sum(a.txn_count) FILTER (WHERE a.status = 'FAILED'), 0)::bigint     AS failed_count,
       coalesce(sum(a.revenue_sum) FILTER (WHERE a.status = 'SUCCESS'), 0)::float8  AS success_revenue,
       sum(a.processing_time_sum)::float8                                           AS processing_time_s_sum
FROM agg_daily_city AS a
WHERE a.date_key BETWEEN %(start_key)s AND %(end_key)s
  AND (%(city_keys)s::integer[] IS NULL OR a.city_key = ANY (%(city_keys)s::integer[]))
  AND (%(channel)s::text IS NULL
       OR a.channel_key = (SELECT ch.channel_key FROM dim_channel AS ch WHERE ch.channel_name = %(channel)s::text))
  AND (%(segment)s::text IS NULL OR a.segment = %(segment)s::text)
GROUP BY 1, 2;
