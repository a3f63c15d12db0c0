-- Customers a transaction names before the customer feed does: inferred members (one version valid
-- for all time), completed in place by the feed later.
INSERT INTO dim_customer (customer_id, segment, is_inferred)
SELECT t.customer_id, 'Unknown', true
FROM unnest(%(customer_ids)s::text[]) AS t (customer_id)
WHERE NOT EXISTS (SELECT 1 FROM dim_customer AS c WHERE c.customer_id = t.customer_id)
ON CONFLICT DO NOTHING;
