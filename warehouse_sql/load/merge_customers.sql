-- Apply the customer feed (staged in _customer_stage) as it stands at %(as_of)s, as type 2 history.
-- 1. Customers never seen: one version, valid for all time.
INSERT INTO dim_customer (customer_id, customer_name, segment, signup_date, is_inferred, updated_at)
SELECT s.customer_id, s.customer_name, coalesce(nullif(s.segment, ''), 'Unknown'), nullif(s.signup_date, '')::date,
       false, now()
FROM _customer_stage AS s
WHERE NOT EXISTS (SELECT 1 FROM dim_customer AS c WHERE c.customer_id = s.customer_id);
-- 2. Inferred members become real in place: the facts pointing at them keep their key.
WITH done AS (
    UPDATE dim_customer AS c
    SET customer_name = s.customer_name, segment = coalesce(nullif(s.segment, ''), 'Unknown'),
        signup_date = nullif(s.signup_date, '')::date, is_inferred = false, updated_at = now()
    FROM _customer_stage AS s
    WHERE c.customer_id = s.customer_id AND c.is_inferred
    RETURNING c.customer_key
)
INSERT INTO _completed SELECT customer_key FROM done;
-- 3. A change of name or segment closes the current version at as_of and opens a new one. A feed
--    older than the current version is history already told: it changes nothing.
INSERT INTO _changed (old_key, customer_id, customer_name, segment, signup_date)
SELECT c.customer_key, s.customer_id, s.customer_name, coalesce(nullif(s.segment, ''), 'Unknown'),
       nullif(s.signup_date, '')::date
FROM dim_customer AS c
JOIN _customer_stage AS s ON s.customer_id = c.customer_id
WHERE c.is_current AND NOT c.is_inferred AND c.valid_from < %(as_of)s
  AND (c.customer_name, c.segment) IS DISTINCT FROM (s.customer_name, coalesce(nullif(s.segment, ''), 'Unknown'));
UPDATE dim_customer AS c
SET valid_to = %(as_of)s, is_current = false, updated_at = now()
FROM _changed AS x
WHERE c.customer_key = x.old_key;
WITH opened AS (
    INSERT INTO dim_customer (customer_id, customer_name, segment, signup_date, is_inferred, updated_at,
                              valid_from, valid_to, is_current)
    SELECT customer_id, customer_name, segment, signup_date, false, now(), %(as_of)s, NULL, true
    FROM _changed
    RETURNING customer_key, customer_id
)
UPDATE _changed AS x SET new_key = o.customer_key FROM opened AS o WHERE o.customer_id = x.customer_id;
-- 4. Other attributes (signup date) are corrected in place on the current version.
UPDATE dim_customer AS c
SET signup_date = nullif(s.signup_date, '')::date, updated_at = now()
FROM _customer_stage AS s
WHERE c.customer_id = s.customer_id AND c.is_current
  AND c.signup_date IS DISTINCT FROM nullif(s.signup_date, '')::date;
