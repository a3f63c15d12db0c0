SELECT customer_key FROM _completed
UNION ALL
SELECT new_key FROM _changed;
