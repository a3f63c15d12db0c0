CREATE TABLE {part} PARTITION OF fact_transactions FOR VALUES FROM (%(date_key)s) TO (%(next_key)s);
