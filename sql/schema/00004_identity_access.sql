-- +goose Up
-- Users are Kratos identities (id = identity id). A user row is visible to the
-- user themself, to callers scoped to a tenant the user belongs to, and to
-- platform admins.
CREATE TABLE users (
    id                uuid PRIMARY KEY,
    email             text NOT NULL UNIQUE CHECK (email = lower(email)),
    name              text NOT NULL DEFAULT '',
    is_platform_admin boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE teams (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, id)
);

CREATE TABLE memberships (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('client_owner', 'client_admin', 'client_analyst', 'client_readonly')),
    team_id     uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, tenant_id),
    FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE SET NULL (team_id)
);
CREATE INDEX memberships_tenant_idx ON memberships (tenant_id);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    prefix        text NOT NULL UNIQUE,
    secret_hash   bytea NOT NULL,
    role          text NOT NULL CHECK (role IN ('client_admin', 'client_analyst', 'client_readonly', 'client_api')),
    scopes        text[] NOT NULL DEFAULT '{}',
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, created_at DESC);

-- Append-only for the application role (no UPDATE/DELETE/TRUNCATE grants).
CREATE TABLE audit_log (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    actor_user_id      uuid,
    actor_api_key_id   uuid,
    effective_user_id  uuid,
    impersonation_id   uuid,
    action             text NOT NULL,
    target_type        text NOT NULL DEFAULT '',
    target_id          text NOT NULL DEFAULT '',
    details            jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id         text NOT NULL DEFAULT '',
    ip                 text NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id DESC);

CREATE TABLE impersonations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    admin_user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason         text NOT NULL CHECK (length(reason) BETWEEN 3 AND 500),
    token_hash     bytea NOT NULL UNIQUE,
    expires_at     timestamptz NOT NULL,
    ended_at       timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Policies. Tenant-owned tables follow the same pattern as scans.
ALTER TABLE teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE teams FORCE ROW LEVEL SECURITY;
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
ALTER TABLE impersonations ENABLE ROW LEVEL SECURITY;
ALTER TABLE impersonations FORCE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;

CREATE POLICY teams_scoped ON teams
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY teams_platform_admin ON teams
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
CREATE POLICY memberships_scoped ON memberships
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY memberships_platform_admin ON memberships
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
CREATE POLICY api_keys_scoped ON api_keys
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY api_keys_platform_admin ON api_keys
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
CREATE POLICY audit_log_scoped ON audit_log
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY audit_log_platform_admin ON audit_log
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
CREATE POLICY impersonations_scoped ON impersonations
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY impersonations_platform_admin ON impersonations
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());

-- The current user's id, set with the scope, lets a user read their own row.
-- +goose StatementBegin
CREATE FUNCTION secureops_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE AS
$$
    SELECT NULLIF(current_setting('secureops.user_id', true), '')::uuid
$$;
-- +goose StatementEnd
GRANT EXECUTE ON FUNCTION secureops_user_id() TO secureops_app;

-- Reading: a user's own row, members of tenants in scope, everyone for admins.
-- Writing: anyone may record a (non-admin) user when inviting; only the
-- platform-admin policy may change a user, and only name and the admin flag
-- are updatable at all.
CREATE POLICY users_self ON users FOR SELECT USING (id = secureops_user_id());
CREATE POLICY users_scoped ON users FOR SELECT
    USING (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.tenant_id = ANY (secureops_scope())));
CREATE POLICY users_invite ON users FOR INSERT WITH CHECK (NOT is_platform_admin);
CREATE POLICY users_platform_admin ON users
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());

GRANT SELECT, INSERT (id, email, name), UPDATE (name, is_platform_admin, updated_at) ON users TO secureops_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON teams TO secureops_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON memberships TO secureops_app;
GRANT SELECT, INSERT, UPDATE ON api_keys TO secureops_app;
GRANT SELECT, INSERT ON audit_log TO secureops_app;
GRANT SELECT, INSERT ON impersonations TO secureops_app;
GRANT DELETE ON scans, findings TO secureops_app;

-- Authentication happens before any tenant scope exists. These SECURITY
-- DEFINER functions answer exactly the questions authentication asks (whose
-- key is this prefix, which memberships does this identity hold, which tenants
-- sit below this one) and nothing more, so the application role never needs a
-- policy that shows all rows. RLS is forced on the owner too, so each function
-- turns the admin policy on for its own query and restores the caller's value
-- before returning (a function-level SET of a custom parameter needs superuser).
-- +goose StatementBegin
CREATE FUNCTION secureops_definer_begin() RETURNS text
LANGUAGE plpgsql VOLATILE AS
$$
DECLARE prev text := COALESCE(current_setting('secureops.platform_admin', true), '');
BEGIN
    PERFORM set_config('secureops.platform_admin', 'on', true);
    RETURN prev;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION secureops_auth_api_key(p_prefix text)
RETURNS TABLE (id uuid, tenant_id uuid, secret_hash bytea, role text, scopes text[],
               expires_at timestamptz, revoked_at timestamptz, tenant_status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE prev text := secureops_definer_begin();
BEGIN
    RETURN QUERY
    SELECT k.id, k.tenant_id, k.secret_hash, k.role, k.scopes, k.expires_at, k.revoked_at, t.status
    FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
    WHERE k.prefix = p_prefix;
    PERFORM set_config('secureops.platform_admin', prev, true);
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION secureops_auth_touch_api_key(p_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE prev text := secureops_definer_begin();
BEGIN
    -- Coarse on purpose: one write per key per minute at most, not per request.
    UPDATE api_keys SET last_used_at = now()
    WHERE id = p_id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');
    PERFORM set_config('secureops.platform_admin', prev, true);
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION secureops_auth_user(p_user uuid)
RETURNS TABLE (tenant_id uuid, role text, team_id uuid, tenant_status text, is_platform_admin boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE prev text := secureops_definer_begin();
BEGIN
    RETURN QUERY
    SELECT m.tenant_id, m.role, m.team_id, t.status, u.is_platform_admin
    FROM users u
    LEFT JOIN memberships m ON m.user_id = u.id
    LEFT JOIN tenants t ON t.id = m.tenant_id
    WHERE u.id = p_user;
    PERFORM set_config('secureops.platform_admin', prev, true);
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION secureops_auth_impersonation(p_hash bytea)
RETURNS TABLE (id uuid, admin_user_id uuid, user_id uuid, tenant_id uuid, expires_at timestamptz, ended_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE prev text := secureops_definer_begin();
BEGIN
    RETURN QUERY
    SELECT i.id, i.admin_user_id, i.user_id, i.tenant_id, i.expires_at, i.ended_at
    FROM impersonations i WHERE i.token_hash = p_hash;
    PERFORM set_config('secureops.platform_admin', prev, true);
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION secureops_tenant_subtree(p_root uuid) RETURNS uuid[]
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE
    prev text := secureops_definer_begin();
    ids uuid[];
BEGIN
    WITH RECURSIVE sub AS (
        SELECT t.id FROM tenants t WHERE t.id = p_root
        UNION
        SELECT t.id FROM tenants t JOIN sub ON t.parent_id = sub.id
    )
    SELECT COALESCE(array_agg(sub.id), '{}') INTO ids FROM sub;
    PERFORM set_config('secureops.platform_admin', prev, true);
    RETURN ids;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION secureops_tenant_ancestors(p_id uuid) RETURNS uuid[]
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE
    prev text := secureops_definer_begin();
    ids uuid[];
BEGIN
    WITH RECURSIVE up AS (
        SELECT t.id, t.parent_id, 0 AS depth FROM tenants t WHERE t.id = p_id
        UNION ALL
        SELECT t.id, t.parent_id, up.depth + 1 FROM tenants t JOIN up ON t.id = up.parent_id
        WHERE up.depth < 64
    )
    SELECT COALESCE(array_agg(up.id ORDER BY up.depth), '{}') INTO ids FROM up;
    PERFORM set_config('secureops.platform_admin', prev, true);
    RETURN ids;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION secureops_tenant_chain_blocked(p_id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE
    prev text := secureops_definer_begin();
    blocked boolean;
BEGIN
    -- A suspended (or cancelled, failed) tenant blocks its whole subtree.
    WITH RECURSIVE up AS (
        SELECT t.id, t.parent_id, t.status, 0 AS depth FROM tenants t WHERE t.id = p_id
        UNION ALL
        SELECT t.id, t.parent_id, t.status, up.depth + 1 FROM tenants t JOIN up ON t.id = up.parent_id
        WHERE up.depth < 64
    )
    SELECT COALESCE(bool_or(up.status NOT IN ('active', 'onboarding')), false) INTO blocked FROM up;
    PERFORM set_config('secureops.platform_admin', prev, true);
    RETURN blocked;
END
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION secureops_definer_begin() FROM PUBLIC;
REVOKE ALL ON FUNCTION secureops_tenant_chain_blocked(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_tenant_chain_blocked(uuid) TO secureops_app;
REVOKE ALL ON FUNCTION secureops_auth_api_key(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION secureops_auth_touch_api_key(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION secureops_auth_user(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION secureops_auth_impersonation(bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION secureops_tenant_subtree(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION secureops_tenant_ancestors(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_auth_api_key(text) TO secureops_app;
GRANT EXECUTE ON FUNCTION secureops_auth_touch_api_key(uuid) TO secureops_app;
GRANT EXECUTE ON FUNCTION secureops_auth_user(uuid) TO secureops_app;
GRANT EXECUTE ON FUNCTION secureops_auth_impersonation(bytea) TO secureops_app;
GRANT EXECUTE ON FUNCTION secureops_tenant_subtree(uuid) TO secureops_app;
GRANT EXECUTE ON FUNCTION secureops_tenant_ancestors(uuid) TO secureops_app;

-- +goose Down
DROP FUNCTION secureops_tenant_ancestors(uuid);
DROP FUNCTION secureops_tenant_subtree(uuid);
DROP FUNCTION secureops_auth_impersonation(bytea);
DROP FUNCTION secureops_auth_user(uuid);
DROP FUNCTION secureops_auth_touch_api_key(uuid);
DROP FUNCTION secureops_auth_api_key(text);
DROP FUNCTION secureops_tenant_chain_blocked(uuid);
DROP FUNCTION secureops_definer_begin();
DROP TABLE impersonations;
DROP TABLE audit_log;
DROP TABLE api_keys;
DROP TABLE memberships;
DROP TABLE teams;
DROP TABLE users;
DROP FUNCTION secureops_user_id();
