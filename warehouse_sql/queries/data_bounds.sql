-- First and last day the dashboard can show (the coarse rollup's extent). Grain: one row.
SELECT min(date_key) AS first_date_key,
       max(date_key) AS last_date_key
FROM agg_daily_region;
