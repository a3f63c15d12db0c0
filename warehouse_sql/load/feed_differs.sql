-- Whether the staged feed would change dim_customer at all (as of %(as_of)s): a new customer, an
-- inferred one it names, or a change of name, segment or signup date of a current version.
SELECT EXISTS (
    SELECT 1
    FROM _customer_stage AS s
    LEFT JOIN dim_customer AS c ON c.customer_id = s.customer_id AND c.is_current
    WHERE c.customer_key IS NULL
       OR c.is_inferred
       OR (c.valid_from < %(as_of)s
           AND (c.customer_name, c.segment) IS DISTINCT FROM (s.customer_name, coalesce(nullif(s.segment, ''), 'Unknown')))
       OR c.signup_date IS DISTINCT FROM nullif(s.signup_date, '')::date
);
