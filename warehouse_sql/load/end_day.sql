-- The load's temporary tables leave with it, not only at commit: several file days can load in
-- one transaction (a batched backfill), each staging afresh.
DROP TABLE IF EXISTS _clear, _displaced, _dropped, _pool, _rollup_stage;
