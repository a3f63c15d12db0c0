-- Take out of the warehouse every version the file competes with: (the window days' facts with one
-- of its transaction ids are taken out first, day by day: displace_day.sql) whatever an earlier load
-- of the same file day wrote, and superseded versions with one of its transaction ids.
-- The identity check looks at the lateness window only (README "Transaction identity and time").
WITH gone AS (
    DELETE FROM fact_transactions AS f
    WHERE %(reloaded)s AND f.date_key BETWEEN %(fact_lo)s AND %(fact_hi)s AND f.file_date = %(file_date)s
    RETURNING f.*
)
INSERT INTO _displaced SELECT * FROM gone;
WITH gone AS (
    DELETE FROM fact_superseded AS s
    WHERE s.file_date BETWEEN %(file_lo)s AND %(file_hi)s
      AND (s.file_date = %(file_date)s
           OR s.transaction_id IN (SELECT transaction_id FROM load_incoming)
           OR s.transaction_id IN (SELECT transaction_id FROM _displaced))
    RETURNING s.*
)
INSERT INTO _dropped SELECT * FROM gone;
