-- THE definition of the fine rollup (one row per day x channel x city x segment x status, the
-- segment of the customer version in force at the transaction): the signed change of facts, added
-- rows (_added) counted +1 and removed rows (_displaced) -1, merged into agg_daily_city. A day is
-- rebuilt by clearing its rows and adding all its facts.
WITH changes AS (
    SELECT 1 AS sign, date_key, channel_key, city_key, customer_key, status, amount, revenue, processing_time_s
    FROM _added
    UNION ALL
    SELECT -1, date_key, channel_key, city_key, customer_key, status, amount, revenue, processing_time_s
    FROM _displaced
)
INSERT INTO agg_daily_city AS a (date_key, channel_key, city_key, segment, status,
                                 txn_count, amount_sum, revenue_sum, processing_time_sum)
SELECT c.date_key, c.channel_key, c.city_key, cu.segment, c.status,
       sum(c.sign), sum(c.sign * c.amount), sum(c.sign * c.revenue), sum(c.sign * c.processing_time_s)
FROM changes AS c
JOIN dim_customer AS cu ON cu.customer_key = c.customer_key
GROUP BY c.date_key, c.channel_key, c.city_key, cu.segment, c.status
ON CONFLICT (date_key, channel_key, city_key, segment, status) DO UPDATE
SET txn_count = a.txn_count + EXCLUDED.txn_count,
    amount_sum = a.amount_sum + EXCLUDED.amount_sum,
    revenue_sum = a.revenue_sum + EXCLUDED.revenue_sum,
    processing_time_sum = a.processing_time_sum + EXCLUDED.processing_time_sum;
DELETE FROM agg_daily_city WHERE date_key = ANY(%(days)s::int[]) AND txn_count = 0;
