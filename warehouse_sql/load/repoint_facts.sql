-- Facts (and superseded versions) at or after a new customer version's start point at it; return
-- the days whose rollups change: those and the days of facts of customers completed in place.
WITH moved AS (
    UPDATE fact_transactions AS f
    SET customer_key = x.new_key
    FROM _changed AS x
    WHERE f.customer_key = x.old_key AND f.transaction_ts >= %(as_of)s AND f.date_key >= %(as_of_key)s
    RETURNING f.date_key
),
moved_superseded AS (
    UPDATE fact_superseded AS s
    SET customer_key = x.new_key
    FROM _changed AS x
    WHERE s.customer_key = x.old_key AND s.transaction_ts >= %(as_of)s
    RETURNING s.date_key
)
SELECT date_key FROM moved
UNION
SELECT f.date_key FROM fact_transactions AS f WHERE f.customer_key IN (SELECT customer_key FROM _completed)
ORDER BY 1;
