-- The file's contested records with their surrogate keys are COPYed into load_incoming (emptied
-- here), its uncontested records of earlier days into _clear and the rollup sums of all its
-- uncontested records into _rollup_stage; the tables the reconciliation fills are temporary.
TRUNCATE load_incoming;
CREATE TEMP TABLE _clear (LIKE fact_transactions) ON COMMIT DROP;
CREATE TEMP TABLE _displaced (LIKE fact_transactions) ON COMMIT DROP;
CREATE TEMP TABLE _dropped (LIKE fact_superseded) ON COMMIT DROP;
CREATE TEMP TABLE _rollup_stage (LIKE agg_daily_city) ON COMMIT DROP;
