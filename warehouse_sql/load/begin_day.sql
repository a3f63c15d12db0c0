-- One day load at a time (loads of the same or other days queue here, never race), and the
-- COPY stream's timestamps are UTC (Arrow renders naive timestamps ~20x faster than zoned ones).
SELECT pg_advisory_xact_lock(%(lock_id)s);
SET LOCAL TimeZone = 'UTC';
