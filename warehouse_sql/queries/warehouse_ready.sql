-- Whether `bap warehouse init` (or a pipeline run) has created what the dashboard reads: the
-- migrations table, the rollups and the load audit. Grain: one row. Reads the catalog only.
SELECT to_regclass('schema_migrations') IS NOT NULL
       AND to_regclass('agg_daily_region') IS NOT NULL
       AND to_regclass('agg_daily_city') IS NOT NULL
       AND to_regclass('load_audit') IS NOT NULL AS ready;
