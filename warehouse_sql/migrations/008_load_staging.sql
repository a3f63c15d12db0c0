-- Where a day load stages its file's keyed records before reconciling them with the warehouse.
-- UNLOGGED (no WAL: it is refilled by every load, inside the load's transaction, which truncates
-- it first) and shared by all loads, which the load lock serialises.
CREATE UNLOGGED TABLE IF NOT EXISTS load_incoming (LIKE fact_transactions);
