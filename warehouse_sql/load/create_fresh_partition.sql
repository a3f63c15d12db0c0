-- The file day's partition when it does not exist yet: an unindexed table shaped like the fact
-- table, filled, then indexed after the bulk insert (faster than row-by-row index upkeep).
CREATE TABLE {part} (LIKE fact_transactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
