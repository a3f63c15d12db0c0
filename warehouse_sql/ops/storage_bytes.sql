-- The warehouse's bytes on disk, for the scale run (benchmarks/bench_scale.py).
-- Grain: one row per table of the current schema that is not itself a partition: its heap, TOAST
-- and indexes, with those of every partition under it. Every row also carries the size of the
-- whole database and the number of facts.
WITH tables AS (
    SELECT c.oid, c.relname, c.relkind
    FROM pg_class AS c
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema()
      AND c.relkind IN ('r', 'p')
      AND NOT c.relispartition
),
sized AS (
    SELECT tables.relname AS table_name,
           sum(pg_total_relation_size(tree.relid))::bigint AS bytes
    FROM tables
    CROSS JOIN LATERAL (
        SELECT tables.oid AS relid WHERE tables.relkind = 'r'
        UNION ALL
        SELECT relid FROM pg_partition_tree(tables.oid) WHERE tables.relkind = 'p'  -- the root and every partition
    ) AS tree
    GROUP BY tables.relname
)
SELECT table_name,
       bytes,
       pg_database_size(current_database()) AS database_bytes,
       (SELECT count(*) FROM fact_transactions) AS facts
FROM sized
ORDER BY bytes DESC, table_name
