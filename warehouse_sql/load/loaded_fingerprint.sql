-- The fingerprint of what the warehouse holds for the day, if its latest load succeeded.
SELECT a.load_fingerprint
FROM load_audit AS a
WHERE a.run_date = %(run_date)s AND a.status = 'loaded' AND to_regclass(%(part)s) IS NOT NULL;
