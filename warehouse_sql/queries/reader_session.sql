-- Make a dashboard session read-only: switch to the read-only role (when %(role)s is not NULL),
-- make every transaction read-only, and bound each statement's run time. Grain: one row.
SELECT set_config('role', coalesce(%(role)s, 'none'), false)          AS role,
       set_config('default_transaction_read_only', 'on', false)       AS read_only,
       set_config('statement_timeout', %(statement_timeout)s, false)  AS statement_timeout;
