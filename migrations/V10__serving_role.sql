-- Least privilege: the functions that serve requests connect as a role in `banter_app`, which
-- reads and writes rows but cannot change the schema; only the migrate function connects as the
-- schema's owner. (Create the serving login role once per deployment:
-- `CREATE ROLE banter_api LOGIN PASSWORD '...' IN ROLE banter_app;` see the README.)
DO $$
BEGIN
    CREATE ROLE banter_app NOLOGIN;
EXCEPTION
    -- Roles belong to the cluster: another database (or a concurrent run) made it already.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- Before PostgreSQL 15 everyone may create objects in `public`; nobody but the owner should.
DO $$
BEGIN
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
EXCEPTION
    WHEN insufficient_privilege THEN NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO banter_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO banter_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO banter_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO banter_app;
-- Tables and sequences that later migrations create (as the same owner) are granted too.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO banter_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO banter_app;
-- The migration history is the owner's alone.
REVOKE ALL ON refinery_schema_history FROM banter_app;
