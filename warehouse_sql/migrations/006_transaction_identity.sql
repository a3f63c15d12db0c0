-- Transaction identity across days (README "Transaction identity and time").
-- A transaction is one fact row, whichever file carries it; the version of the latest file day wins.
-- fact_transactions.file_date: the file day whose version the row is. Rows loaded before this
-- migration came from their own day's file.
ALTER TABLE fact_transactions ADD COLUMN IF NOT EXISTS file_date date;
UPDATE fact_transactions SET file_date = to_date(date_key::text, 'YYYYMMDD') WHERE file_date IS NULL;
ALTER TABLE fact_transactions ALTER COLUMN file_date SET NOT NULL;

-- Versions of a transaction that a later file day superseded: kept so that a re-landed later file
-- without the correction brings the earlier version back. Grain: one row per transaction x file day.
CREATE TABLE IF NOT EXISTS fact_superseded (
    transaction_id           varchar(64)  NOT NULL,
    file_date                date         NOT NULL,
    date_key                 integer      NOT NULL,
    customer_key             integer      NOT NULL,
    channel_key              smallint     NOT NULL,
    city_key                 integer      NOT NULL,
    transaction_ts           timestamptz  NOT NULL,
    amount                   numeric(12,2) NOT NULL,
    status                   varchar(20)  NOT NULL,
    processing_time_s        numeric(9,3) NOT NULL,
    processing_delay_bucket  varchar(10)  NOT NULL,
    fee_percent              numeric(5,2) NOT NULL,
    revenue                  numeric(12,2) NOT NULL,
    PRIMARY KEY (transaction_id, file_date)
);
CREATE INDEX IF NOT EXISTS fact_superseded_file_date_idx ON fact_superseded (file_date);

-- Exact accounting per file day:
-- rows_received = rows_loaded + rows_superseded + rows_quarantined + duplicates_dropped, where
-- rows_loaded counts the file's versions in fact_transactions (rows_loaded_earlier of them in an
-- earlier day than the file's, rows_corrections of them replacing an earlier file's version) and
-- rows_superseded its versions that a later file day replaced.
-- changed_by / changed_at: the later file day that last changed this day's counts, and when.
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS rows_loaded_earlier bigint;
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS rows_corrections bigint;
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS rows_superseded bigint;
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS changed_by date;
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS changed_at timestamptz;
UPDATE load_audit SET rows_loaded_earlier = 0, rows_corrections = 0, rows_superseded = 0
WHERE rows_loaded IS NOT NULL AND rows_superseded IS NULL;
ALTER TABLE load_runs ADD COLUMN IF NOT EXISTS rows_loaded_earlier bigint;
ALTER TABLE load_runs ADD COLUMN IF NOT EXISTS rows_corrections bigint;
ALTER TABLE load_runs ADD COLUMN IF NOT EXISTS rows_superseded bigint;
