-- Whether the session can switch to the dashboard's read-only role. Grain: one row.
SELECT current_user AS connected_as,
       EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(role)s) AS role_exists,
       EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(role)s)
           AND pg_has_role(current_user, %(role)s, 'MEMBER') AS can_switch;
