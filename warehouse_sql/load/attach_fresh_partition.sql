-- Keys and the range the partition must carry: with them in place ATTACH PARTITION adopts them
-- instead of re-validating the rows; the range check is redundant afterwards.
SET LOCAL maintenance_work_mem = '256MB';
ALTER TABLE {part}
    ADD PRIMARY KEY (date_key, transaction_id),
    ADD CONSTRAINT {range} CHECK (date_key >= %(date_key)s AND date_key < %(next_key)s);
ALTER TABLE fact_transactions ATTACH PARTITION {part} FOR VALUES FROM (%(date_key)s) TO (%(next_key)s);
ALTER TABLE {part} DROP CONSTRAINT {range};
