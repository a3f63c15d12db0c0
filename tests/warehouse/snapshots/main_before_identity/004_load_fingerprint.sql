-- load_audit.load_fingerprint (what the day's latest load wrote) for warehouses created before
-- 001 declared it: a re-run that would write exactly the same replaces nothing.
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS load_fingerprint text;
