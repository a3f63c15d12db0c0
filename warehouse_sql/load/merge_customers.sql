-- Apply the customer feed (staged in _customer_stage): new customers in, changed ones updated,
-- inferred members completed. Unchanged rows are not touched.
INSERT INTO dim_customer (customer_id, customer_name, segment, signup_date, is_inferred, updated_at)
SELECT customer_id, customer_name, coalesce(nullif(segment, ''), 'Unknown'), nullif(signup_date, '')::date, false, now()
FROM _customer_stage
ON CONFLICT (customer_id) DO UPDATE
SET customer_name = EXCLUDED.customer_name,
    segment       = EXCLUDED.segment,
    signup_date   = EXCLUDED.signup_date,
    is_inferred   = false,
    updated_at    = now()
WHERE (dim_customer.customer_name, dim_customer.segment, dim_customer.signup_date, dim_customer.is_inferred)
      IS DISTINCT FROM (EXCLUDED.customer_name, EXCLUDED.segment, EXCLUDED.signup_date, false);
