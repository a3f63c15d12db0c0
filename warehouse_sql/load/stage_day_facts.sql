-- Rebuilding the rollups of days: clear them, and stage all their facts as added (nothing removed).
DELETE FROM agg_daily_city WHERE date_key = ANY(%(days)s::int[]);
DROP TABLE IF EXISTS _displaced, _added, _rollup_stage;  -- an earlier rebuild in the same transaction
CREATE TEMP TABLE _displaced (LIKE fact_transactions) ON COMMIT DROP;
CREATE TEMP TABLE _rollup_stage (LIKE agg_daily_city) ON COMMIT DROP;
CREATE TEMP TABLE _added ON COMMIT DROP AS
SELECT * FROM fact_transactions WHERE date_key = ANY(%(days)s::int[]);
