-- An empty, unindexed table shaped like the fact table: the day is COPYed into it, indexed after
-- the bulk copy (faster than maintaining the index row by row), then swapped in as the partition.
DROP TABLE IF EXISTS {fresh};
CREATE TABLE {fresh} (LIKE fact_transactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
