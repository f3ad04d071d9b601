-- A read-only role for analysts: it reads the dbt marts and nothing in app, raw, staging or
-- intermediate. It may log in (the embedded server trusts loopback connections, so it needs no
-- password there); on a shared server give it one: ALTER ROLE analyst PASSWORD '...'.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'analyst') THEN
        CREATE ROLE analyst LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOINHERIT;
    END IF;
END
$$;

-- dbt creates the marts here; the schema exists up front so its grants can be set once.
CREATE SCHEMA IF NOT EXISTS marts;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO analyst', current_database());
END
$$;
GRANT USAGE ON SCHEMA marts TO analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA marts TO analyst;
-- Tables created later in marts by the migrating role (dbt's own connection, usually) stay
-- readable; dbt also grants SELECT on each mart through its `grants` config.
ALTER DEFAULT PRIVILEGES IN SCHEMA marts GRANT SELECT ON TABLES TO analyst;

-- Nothing else: no access to the operational or raw data, even if PUBLIC was granted some.
REVOKE ALL ON SCHEMA app, raw, serving FROM analyst;
REVOKE ALL ON ALL TABLES IN SCHEMA app FROM analyst;
REVOKE ALL ON ALL TABLES IN SCHEMA raw FROM analyst;
