ALTER TABLE {fresh} RENAME TO {part_name};
ALTER TABLE fact_transactions ATTACH PARTITION {part} FOR VALUES FROM (%(date_key)s) TO (%(next_key)s);
