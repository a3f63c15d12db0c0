-- The versions of the given customers, in validity order, valid_from in epoch seconds (the first
-- version, valid from -infinity, as 0) for the as-of join of the facts.
SELECT customer_id, customer_key, floor(extract(epoch FROM greatest(valid_from, 'epoch')))::bigint AS valid_from_s,
       segment, is_inferred
FROM dim_customer
WHERE customer_id = ANY(%(customer_ids)s::text[])
ORDER BY customer_id, valid_from;
