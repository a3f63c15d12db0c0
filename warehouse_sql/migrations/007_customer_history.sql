-- dim_customer as a type 2 slowly changing dimension: one row per customer version.
-- valid_from is inclusive, valid_to exclusive (NULL for the current version); a customer's first
-- version is valid from -infinity, so every transaction finds the version in force at its time.
ALTER TABLE dim_customer DROP CONSTRAINT IF EXISTS dim_customer_customer_id_key;
ALTER TABLE dim_customer ADD COLUMN IF NOT EXISTS valid_from timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE dim_customer ADD COLUMN IF NOT EXISTS valid_to timestamptz;
ALTER TABLE dim_customer ADD COLUMN IF NOT EXISTS is_current boolean NOT NULL DEFAULT true;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'dim_customer_version_key') THEN
        ALTER TABLE dim_customer ADD CONSTRAINT dim_customer_version_key UNIQUE (customer_id, valid_from);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'dim_customer_current_check') THEN
        ALTER TABLE dim_customer ADD CONSTRAINT dim_customer_current_check
            CHECK ((valid_to IS NULL) = is_current AND (valid_to IS NULL OR valid_to > valid_from));
    END IF;
END
$$;
CREATE UNIQUE INDEX IF NOT EXISTS dim_customer_current_idx ON dim_customer (customer_id) WHERE is_current;
