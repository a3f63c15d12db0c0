-- Period totals per item of the comparison dimension, read from the fine rollup.
-- Used when a state or city filter is set, or the comparison is by state or city.
-- Grain: one row per item. %(city_keys)s is the list of cities the geography filters allow
-- (NULL = every city); every other filter is a bound value where NULL means "All".
WITH cells AS (
    SELECT CASE %(dim)s
               WHEN 'channel' THEN ch.channel_name::text
               WHEN 'region'  THEN ci.region::text
               WHEN 'state'   THEN ci.state::text
               WHEN 'city'    THEN ci.city_name::text
               WHEN 'segment' THEN a.segment::text
               ELSE 'All'
           END AS item,
           a.status,
           a.txn_count,
           a.revenue_sum,
           a.processing_time_sum
    FROM agg_daily_city AS a
    JOIN dim_channel AS ch ON ch.channel_key = a.channel_key
    JOIN dim_city AS ci ON ci.city_key = a.city_key
    WHERE a.date_key BETWEEN %(start_key)s AND %(end_key)s
      AND (%(city_keys)s::integer[] IS NULL OR a.city_key = ANY (%(city_keys)s::integer[]))
      AND (%(channel)s::text IS NULL OR ch.channel_name = %(channel)s::text)
      AND (%(segment)s::text IS NULL OR a.segment = %(segment)s::text)
)
SELECT item,
       sum(txn_count)                                              AS txn_count,
       coalesce(sum(txn_count) FILTER (WHERE status = 'FAILED'), 0)    AS failed_count,
       coalesce(sum(revenue_sum) FILTER (WHERE status = 'SUCCESS'), 0) AS success_revenue,
       sum(processing_time_sum)                                    AS processing_time_s_sum
FROM cells
GROUP BY item
ORDER BY txn_count DESC, item;
