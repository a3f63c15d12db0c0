-- Per file day, the change of its accounting that the load made: versions now in the facts
-- (+1) or superseded (+1), versions taken out (-1). See 006_transaction_identity.sql.
-- A fact taken out was a correction when an earlier file day's version of it was superseded
-- (joined by hash on the earliest such file day: a reload takes out a whole day's facts).
WITH first_dropped AS (
    SELECT transaction_id, min(file_date) AS file_date FROM _dropped GROUP BY transaction_id
),
state_rows AS (
    SELECT 1 AS sign, file_date, date_key, true AS loaded, corrects FROM _added
    UNION ALL
    SELECT 1, file_date, date_key, false, false FROM _pool WHERE NOT wins
    UNION ALL
    SELECT -1, d.file_date, d.date_key, true, coalesce(x.file_date < d.file_date, false)
    FROM _displaced AS d
    LEFT JOIN first_dropped AS x ON x.transaction_id = d.transaction_id
    UNION ALL
    SELECT -1, file_date, date_key, false, false FROM _dropped
)
SELECT file_date,
       coalesce(sum(sign) FILTER (WHERE loaded), 0) AS loaded,
       coalesce(sum(sign) FILTER (WHERE loaded AND date_key < to_char(file_date, 'YYYYMMDD')::int), 0) AS loaded_earlier,
       coalesce(sum(sign) FILTER (WHERE loaded AND corrects), 0) AS corrections,
       coalesce(sum(sign) FILTER (WHERE NOT loaded), 0) AS superseded
FROM state_rows
GROUP BY file_date
ORDER BY file_date;
