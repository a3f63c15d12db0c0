-- The smallest and largest transaction id of the superseded versions of the window's file days.
SELECT min(transaction_id), max(transaction_id) FROM fact_superseded WHERE file_date BETWEEN %(file_lo)s AND %(file_hi)s;
