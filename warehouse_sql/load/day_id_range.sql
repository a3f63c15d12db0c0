-- The smallest and largest transaction id of one day's facts (two probes of its primary key).
SELECT min(transaction_id), max(transaction_id) FROM fact_transactions WHERE date_key = %(date_key)s;
