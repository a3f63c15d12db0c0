-- The day partitions of the fact table that the load writes to (one per date_key).
SELECT k.date_key, to_regclass('fact_transactions_d' || k.date_key) IS NOT NULL
FROM unnest(%(date_keys)s::int[]) AS k (date_key);
