-- Daily totals per item of one breakdown dimension, by each customer's CURRENT segment (the
-- is_current version of dim_customer), read from the fact table: the rollups hold the segment at
-- transaction time. Used only when the user chooses the current-segment view and a segment filter
-- or a breakdown by segment is in play (any other view is the same in both, and reads the rollups).
-- Grain: one row per day x item, where the item is item_key (a channel_key, when %(dim)s =
-- 'channel') or item_name (a region, state, city or current segment); both NULL for no breakdown.
-- %(city_keys)s: the cities the geography filters allow (NULL = every city). Every other filter is
-- a bound value where NULL means "All"; an unknown channel name matches nothing.
WITH facts AS (
    SELECT f.date_key, f.channel_key, f.city_key, cur.segment, f.status, f.revenue, f.processing_time_s
    FROM fact_transactions AS f
    JOIN dim_customer AS version ON version.customer_key = f.customer_key
    JOIN dim_customer AS cur ON cur.customer_id = version.customer_id AND cur.is_current
    WHERE f.date_key BETWEEN %(start_key)s AND %(end_key)s
      AND (%(city_keys)s::integer[] IS NULL OR f.city_key = ANY (%(city_keys)s::integer[]))
      AND (%(channel)s::text IS NULL
           OR f.channel_key = (SELECT ch.channel_key FROM dim_channel AS ch WHERE ch.channel_name = %(channel)s::text))
      AND (%(segment)s::text IS NULL OR cur.segment = %(segment)s::text)
),
labelled AS (
    SELECT fa.*,
           CASE WHEN %(dim)s = 'channel' THEN fa.channel_key END              AS item_key,
           CASE %(dim)s WHEN 'region' THEN ci.region WHEN 'state' THEN ci.state
                        WHEN 'city' THEN ci.city_name WHEN 'segment' THEN fa.segment END AS item_name
    FROM facts AS fa
    JOIN dim_city AS ci ON ci.city_key = fa.city_key
)
SELECT date_key,
       item_key,
       item_name,
       count(*)::bigint                                                       AS txn_count,
       count(*) FILTER (WHERE status = 'FAILED')::bigint                      AS failed_count,
       coalesce(sum(revenue) FILTER (WHERE status = 'SUCCESS'), 0)::float8    AS success_revenue,
       sum(processing_time_s)::float8                                         AS processing_time_s_sum
FROM labelled
GROUP BY 1, 2, 3
ORDER BY 1;
