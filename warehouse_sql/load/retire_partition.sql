-- Remove the day's current partition (its rows are replaced by the fresh one in this transaction).
ALTER TABLE fact_transactions DETACH PARTITION {part};
DROP TABLE {part};
