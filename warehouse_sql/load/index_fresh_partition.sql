-- Keys and constraints the partition must carry. With them in place, ATTACH PARTITION adopts
-- them instead of re-validating the rows while holding the fact table's lock.
SET LOCAL maintenance_work_mem = '256MB';
ALTER TABLE {fresh}
    ADD PRIMARY KEY (date_key, transaction_id),
    ADD CONSTRAINT {fresh_range} CHECK (date_key >= %(date_key)s AND date_key < %(next_key)s);
