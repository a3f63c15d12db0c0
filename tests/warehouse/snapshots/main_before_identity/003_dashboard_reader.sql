-- The dashboard's read-only role and the indexes its queries need.
-- Idempotent, and safe when several databases of one server migrate at the same time (roles are
-- cluster-wide: the role is created once and each database grants it SELECT on its own tables).
-- Where the migrating user may not create roles, nothing fails: the role is simply absent and the
-- dashboard falls back to read-only transactions as the connecting user (and says so).
-- No percent sign anywhere: migrations run through DB-API pyformat, where it is a placeholder.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bap_dashboard_reader') THEN
        BEGIN
            CREATE ROLE bap_dashboard_reader NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by a migration of another database
            WHEN insufficient_privilege THEN
                RAISE NOTICE USING MESSAGE = 'bap_dashboard_reader not created: ' || current_user || ' lacks CREATEROLE';
        END;
    END IF;

    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bap_dashboard_reader') THEN
        BEGIN
            EXECUTE 'GRANT USAGE ON SCHEMA ' || quote_ident(current_schema()) || ' TO bap_dashboard_reader';
            EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA ' || quote_ident(current_schema()) || ' TO bap_dashboard_reader';
            -- Tables that later migrations create are readable too.
            EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA ' || quote_ident(current_schema())
                    || ' GRANT SELECT ON TABLES TO bap_dashboard_reader';
        EXCEPTION
            WHEN insufficient_privilege THEN
                RAISE NOTICE USING MESSAGE = 'SELECT not granted to bap_dashboard_reader: ' || current_user || ' does not own the tables';
        END;
        -- The dashboard connects as the warehouse user and switches to the role with SET ROLE.
        IF NOT pg_has_role(current_user, 'bap_dashboard_reader', 'MEMBER') THEN
            BEGIN
                EXECUTE 'GRANT bap_dashboard_reader TO ' || quote_ident(current_user);
            EXCEPTION
                WHEN OTHERS THEN  -- no ADMIN OPTION, or a concurrent grant: the dashboard falls back
                    RAISE NOTICE USING MESSAGE = 'bap_dashboard_reader not granted to ' || current_user || ': ' || SQLERRM;
            END;
        END IF;
    END IF;
END
$$;

-- The fine rollup is read by city (a state's or a city's keys) within a date range.
CREATE INDEX IF NOT EXISTS agg_daily_city_city_date_idx ON agg_daily_city (city_key, date_key);
-- The coarse rollup is read by region within a date range (the primary key serves the rest).
CREATE INDEX IF NOT EXISTS agg_daily_region_region_date_idx ON agg_daily_region (region, date_key);
-- The segment filter's options come from a loose index scan of this index.
CREATE INDEX IF NOT EXISTS agg_daily_region_segment_idx ON agg_daily_region (segment);
