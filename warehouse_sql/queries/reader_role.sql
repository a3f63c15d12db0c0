-- Whether the session can switch to the dashboard's read-only role. Grain: one row.
-- (CASE, not AND: pg_has_role raises for a role that does not exist.)
SELECT current_user AS connected_as,
       EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(role)s) AS role_exists,
       CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(role)s)
            THEN pg_has_role(current_user, %(role)s, 'MEMBER')
            ELSE false
       END AS can_switch;
