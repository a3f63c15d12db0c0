-- The quarantined rows of one day with their reasons, by file and record number.
-- Grain: one row per rejected source record.
SELECT source_file,
       source_row,
       reject_reason,
       transaction_id,
       raw_record::text AS raw_record
FROM quarantine_rows
WHERE run_date = %(run_date)s
ORDER BY source_file, source_row
LIMIT %(limit)s;
