-- +goose Up
-- The application role: no BYPASSRLS, so row-level security always applies to
-- the API and the workers. Its password (where one is needed) is set outside
-- migrations by whoever provisions the database; roles are cluster-wide, so the
-- creation is guarded for clusters that hold several SecureOps databases.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'secureops_app') THEN
        CREATE ROLE secureops_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;
-- +goose StatementEnd

GRANT USAGE ON SCHEMA public TO secureops_app;

-- The tenant scope of the current transaction, set by the Go helper with
-- set_config('secureops.tenant_ids', '{…}', true). An unset or empty scope is
-- the empty array, so a query that forgot its WHERE clause sees nothing.
-- +goose StatementBegin
CREATE FUNCTION secureops_scope() RETURNS uuid[]
    LANGUAGE sql STABLE PARALLEL SAFE AS
$$
    SELECT COALESCE(NULLIF(current_setting('secureops.tenant_ids', true), ''), '{}')::uuid[]
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION secureops_is_platform_admin() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE AS
$$
    SELECT COALESCE(current_setting('secureops.platform_admin', true), '') = 'on'
$$;
-- +goose StatementEnd

GRANT EXECUTE ON FUNCTION secureops_scope() TO secureops_app;
GRANT EXECUTE ON FUNCTION secureops_is_platform_admin() TO secureops_app;

-- +goose Down
REVOKE ALL ON SCHEMA public FROM secureops_app;
DROP FUNCTION secureops_is_platform_admin();
DROP FUNCTION secureops_scope();
