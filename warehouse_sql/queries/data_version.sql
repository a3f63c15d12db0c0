-- A cheap fingerprint of the warehouse contents: it changes whenever a load lands or a run
-- finishes, which invalidates the dashboard's query cache. Grain: one row.
SELECT max(loaded_at)                          AS last_loaded_at,
       max(coalesce(finished_at, started_at))  AS last_run_at,
       count(*)                                AS audited_days
FROM load_audit;
