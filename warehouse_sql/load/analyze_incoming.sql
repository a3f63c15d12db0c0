-- Statistics of the staged file's join keys (no autovacuum sees it inside the transaction).
ANALYZE load_incoming (transaction_id, customer_key);
