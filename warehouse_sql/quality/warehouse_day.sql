-- The warehouse suite: checks of one loaded day. Grain: one row per check.
-- Runs on the caller's connection, so inside the load transaction it sees the uncommitted day.
-- Params: date_key (YYYYMMDD) of the file day, expected_rows (rows of the file's processed batch).
-- A file's records are versions of transactions that may belong to earlier days or be superseded by
-- a later file day: the count check is on the file's rows (its facts in its own day, plus those the
-- load recorded in earlier days or as superseded), the other checks on the facts of the file's day.
-- The day's facts are read once: every count, sum and check below is one aggregate over them.
WITH fact_checks AS (
    SELECT count(*) AS row_count,
           coalesce(sum(f.amount), 0) AS amount_sum,
           coalesce(sum(f.revenue), 0) AS revenue_sum,
           count(*) FILTER (WHERE f.file_date = to_date(%(date_key)s::text, 'YYYYMMDD')) AS own_file_rows,
           count(*) FILTER (WHERE cu.customer_key IS NULL) AS orphan_customer_key,
           count(*) FILTER (WHERE ch.channel_key IS NULL)  AS orphan_channel_key,
           count(*) FILTER (WHERE ci.city_key IS NULL)     AS orphan_city_key,
           count(*) FILTER (WHERE d.date_key IS NULL)      AS orphan_date_key,
           count(*) FILTER (
               WHERE abs(f.revenue - CASE WHEN f.status = 'SUCCESS'
                                          THEN round(f.amount * f.fee_percent / 100, 2)
                                          ELSE 0 END) > 0.01
           ) AS revenue_off_rule,
           count(*) FILTER (WHERE ch.channel_key IS NOT NULL AND f.fee_percent <> ch.fee_percent) AS fee_off_channel
    FROM fact_transactions AS f
    LEFT JOIN dim_customer AS cu ON cu.customer_key = f.customer_key
    LEFT JOIN dim_channel  AS ch ON ch.channel_key = f.channel_key
    LEFT JOIN dim_city     AS ci ON ci.city_key = f.city_key
    LEFT JOIN dim_date     AS d  ON d.date_key = f.date_key
    WHERE f.date_key = %(date_key)s
),
fact_totals AS (
    SELECT row_count, amount_sum, revenue_sum FROM fact_checks
),
file_totals AS (
    SELECT c.own_file_rows
           + coalesce((SELECT coalesce(rows_loaded_earlier, 0) + coalesce(rows_superseded, 0) FROM load_audit
                       WHERE run_date = to_date(%(date_key)s::text, 'YYYYMMDD') AND status = 'loaded'), 0) AS row_count
    FROM fact_checks AS c
),
rollup_totals AS (
    SELECT 'agg_daily_city' AS rollup, coalesce(sum(txn_count), 0) AS row_count,
           coalesce(sum(amount_sum), 0) AS amount_sum, coalesce(sum(revenue_sum), 0) AS revenue_sum
    FROM agg_daily_city WHERE date_key = %(date_key)s
    UNION ALL
    SELECT 'agg_daily_region', coalesce(sum(txn_count), 0),
           coalesce(sum(amount_sum), 0), coalesce(sum(revenue_sum), 0)
    FROM agg_daily_region WHERE date_key = %(date_key)s
),
orphans AS (
    SELECT fk.column_name, fk.orphans
    FROM fact_checks AS c
    CROSS JOIN LATERAL (VALUES ('customer_key', c.orphan_customer_key), ('channel_key', c.orphan_channel_key),
                               ('city_key', c.orphan_city_key), ('date_key', c.orphan_date_key)) AS fk (column_name, orphans)
)
SELECT 'expect_fact_row_count_to_equal_processed_rows' AS expectation,
       'critical' AS severity,
       t.row_count = %(expected_rows)s AS success,
       jsonb_build_object('fact_rows', t.row_count, 'processed_rows', %(expected_rows)s) AS observed_value,
       abs(t.row_count - %(expected_rows)s) AS unexpected_count,
       %(expected_rows)s::bigint AS element_count
FROM file_totals AS t
UNION ALL
SELECT 'expect_fact_foreign_keys_to_exist:' || o.column_name, 'critical', o.orphans = 0,
       to_jsonb(o.orphans), o.orphans, t.row_count
FROM orphans AS o CROSS JOIN fact_totals AS t
UNION ALL
SELECT 'expect_fact_revenue_to_match_amount_times_fee', 'critical', c.revenue_off_rule = 0,
       to_jsonb(c.revenue_off_rule), c.revenue_off_rule, t.row_count
FROM fact_checks AS c CROSS JOIN fact_totals AS t
UNION ALL
SELECT 'expect_fact_fee_percent_to_match_dim_channel', 'critical', c.fee_off_channel = 0,
       to_jsonb(c.fee_off_channel), c.fee_off_channel, t.row_count
FROM fact_checks AS c CROSS JOIN fact_totals AS t
UNION ALL
SELECT 'expect_rollup_to_match_fact:' || r.rollup, 'warning',
       (r.row_count, r.amount_sum, r.revenue_sum) = (t.row_count, t.amount_sum, t.revenue_sum),
       jsonb_build_object('rollup', jsonb_build_object('rows', r.row_count, 'amount', r.amount_sum, 'revenue', r.revenue_sum),
                          'fact', jsonb_build_object('rows', t.row_count, 'amount', t.amount_sum, 'revenue', t.revenue_sum)),
       NULL, NULL
FROM rollup_totals AS r CROSS JOIN fact_totals AS t;
