SELECT customer_id, customer_key, segment FROM dim_customer WHERE customer_id = ANY(%(customer_ids)s::text[]);
