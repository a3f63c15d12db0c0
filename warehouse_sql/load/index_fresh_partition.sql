-- Keys and constraints the partition must carry. With them in place, ATTACH PARTITION adopts
-- them instead of re-validating the rows while holding the fact table's lock.
ALTER TABLE {fresh}
    ADD PRIMARY KEY (date_key, transaction_id),
    ADD CONSTRAINT {fresh_range} CHECK (date_key >= %(date_key)s AND date_key < %(next_key)s),
    ADD FOREIGN KEY (date_key) REFERENCES dim_date (date_key),
    ADD FOREIGN KEY (customer_key) REFERENCES dim_customer (customer_key),
    ADD FOREIGN KEY (channel_key) REFERENCES dim_channel (channel_key),
    ADD FOREIGN KEY (city_key) REFERENCES dim_city (city_key);
