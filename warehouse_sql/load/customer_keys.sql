SELECT customer_id, customer_key FROM dim_customer WHERE customer_id = ANY(%(customer_ids)s::text[]);
