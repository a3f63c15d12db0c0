-- The fingerprint of what the warehouse holds for the file day, if its latest load succeeded.
SELECT a.load_fingerprint FROM load_audit AS a WHERE a.run_date = %(run_date)s AND a.status = 'loaded';
