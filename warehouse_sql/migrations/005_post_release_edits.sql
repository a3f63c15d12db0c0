-- The edits that were once made to 001 in place after its release, as their own migration, so a
-- warehouse created with the released 001 and one created with any later text of it end identical.
-- Idempotent: on a warehouse that already has them, nothing changes.

-- Fact dimension keys are not FOREIGN KEY constraints: validating them would scan every loaded day
-- again (about 40 of every 100 seconds of a 1,000,000-row load). The load resolves every key inside
-- the day's own transaction, and the warehouse quality suite checks for orphans after every load.
ALTER TABLE fact_transactions DROP CONSTRAINT IF EXISTS fact_transactions_date_key_fkey;
ALTER TABLE fact_transactions DROP CONSTRAINT IF EXISTS fact_transactions_customer_key_fkey;
ALTER TABLE fact_transactions DROP CONSTRAINT IF EXISTS fact_transactions_channel_key_fkey;
ALTER TABLE fact_transactions DROP CONSTRAINT IF EXISTS fact_transactions_city_key_fkey;

-- quarantine_rows: keyed by source file and record number (a landed folder holds several files).
ALTER TABLE quarantine_rows ADD COLUMN IF NOT EXISTS source_file text;
UPDATE quarantine_rows SET source_file = '' WHERE source_file IS NULL;
ALTER TABLE quarantine_rows ALTER COLUMN source_file SET NOT NULL;
ALTER TABLE quarantine_rows DROP CONSTRAINT IF EXISTS quarantine_rows_pkey;
CREATE INDEX IF NOT EXISTS quarantine_rows_run_date_idx ON quarantine_rows (run_date, reject_reason);

-- load_audit.load_fingerprint is added by 004.
