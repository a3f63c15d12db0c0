-- THE definition of the fine rollup (one row per day x channel x city x segment x status, the
-- segment of the customer version in force at the transaction): the signed change of facts, added
-- rows (_added) counted +1 and removed rows (_displaced) -1, plus the sums of the rows added without
-- contest (_rollup_stage, summed at this grain before their COPY: flows/warehouse/rollups.py),
-- merged into agg_daily_city. A day is rebuilt by clearing its rows and adding all its facts.
WITH changes AS (
    SELECT 1 AS sign, date_key, channel_key, city_key, customer_key, status, amount, revenue, processing_time_s
    FROM _added
    UNION ALL
    SELECT -1, date_key, channel_key, city_key, customer_key, status, amount, revenue, processing_time_s
    FROM _displaced
),
sums AS (
    SELECT c.date_key, c.channel_key, c.city_key, cu.segment, c.status, sum(c.sign) AS txn_count,
           sum(c.sign * c.amount) AS amount_sum, sum(c.sign * c.revenue) AS revenue_sum,
           sum(c.sign * c.processing_time_s) AS processing_time_sum
    FROM changes AS c
    JOIN dim_customer AS cu ON cu.customer_key = c.customer_key
    GROUP BY c.date_key, c.channel_key, c.city_key, cu.segment, c.status
    UNION ALL
    SELECT date_key, channel_key, city_key, segment, status, txn_count, amount_sum, revenue_sum, processing_time_sum
    FROM _rollup_stage
)
INSERT INTO agg_daily_city AS a (date_key, channel_key, city_key, segment, status,
                                 txn_count, amount_sum, revenue_sum, processing_time_sum)
SELECT date_key, channel_key, city_key, segment, status,
       sum(txn_count), sum(amount_sum), sum(revenue_sum), sum(processing_time_sum)
FROM sums
GROUP BY date_key, channel_key, city_key, segment, status
ON CONFLICT (date_key, channel_key, city_key, segment, status) DO UPDATE
SET txn_count = a.txn_count + EXCLUDED.txn_count,
    amount_sum = a.amount_sum + EXCLUDED.amount_sum,
    revenue_sum = a.revenue_sum + EXCLUDED.revenue_sum,
    processing_time_sum = a.processing_time_sum + EXCLUDED.processing_time_sum;
DELETE FROM agg_daily_city WHERE date_key = ANY(%(days)s::int[]) AND txn_count = 0;
