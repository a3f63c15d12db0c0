CREATE TEMP TABLE _customer_stage (customer_id text, customer_name text, segment text, signup_date text)
    ON COMMIT DROP;
CREATE TEMP TABLE _completed (customer_key integer) ON COMMIT DROP;
CREATE TEMP TABLE _changed (old_key integer, new_key integer, customer_id text, customer_name text,
                            segment text, signup_date date) ON COMMIT DROP;
