-- The days whose facts the load changed: their rollups follow in the same transaction.
SELECT date_key FROM _added
UNION
SELECT date_key FROM _displaced
ORDER BY 1;
