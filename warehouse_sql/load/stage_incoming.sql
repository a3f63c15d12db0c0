-- The file's accepted records with their surrogate keys (COPYed here), and the tables the
-- reconciliation fills. Temporary: they leave with the load's transaction.
CREATE TEMP TABLE _incoming (LIKE fact_transactions) ON COMMIT DROP;
CREATE TEMP TABLE _displaced (LIKE fact_transactions) ON COMMIT DROP;
CREATE TEMP TABLE _dropped (LIKE fact_superseded) ON COMMIT DROP;
