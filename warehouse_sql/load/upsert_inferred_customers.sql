-- Customers a transaction names before the customer feed does: inferred members, completed later.
INSERT INTO dim_customer (customer_id, segment, is_inferred)
SELECT t.customer_id, 'Unknown', true
FROM unnest(%(customer_ids)s::text[]) AS t (customer_id)
ON CONFLICT (customer_id) DO NOTHING;
