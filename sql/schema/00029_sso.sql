-- +goose Up
-- Single sign-on (enterprise tier). A tenant proves it owns an email domain
-- (a DNS TXT record, the same proof as targets': internal/targets proof.go);
-- a person whose first OIDC sign-in carries an address at a verified domain
-- joins that tenant with its default role (just in time); "SSO required"
-- refuses passwords to that domain's people.
CREATE TABLE sso_domains (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    domain      text NOT NULL CHECK (domain = lower(domain) AND length(domain) BETWEEN 3 AND 253),
    token       text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified')),
    last_error  text NOT NULL DEFAULT '',
    checked_at  timestamptz,
    verified_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, domain)
);
-- Several tenants may claim a domain; one proves it.
CREATE UNIQUE INDEX sso_domains_verified_once ON sso_domains (domain) WHERE status = 'verified';
ALTER TABLE sso_domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_domains FORCE ROW LEVEL SECURITY;
CREATE POLICY sso_domains_scoped ON sso_domains
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY sso_domains_platform_admin ON sso_domains
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE, DELETE ON sso_domains TO secureops_app;

CREATE TABLE sso_settings (
    tenant_id    uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    -- The role of a person who joins by their first SSO sign-in.
    default_role text NOT NULL DEFAULT 'client_readonly' CHECK (default_role IN ('client_admin', 'client_analyst', 'client_readonly')),
    -- Passwords refused to the people of the tenant's verified domains.
    required     boolean NOT NULL DEFAULT false,
    -- The identity provider (an OIDC_PROVIDERS id) the tenant's people sign
    -- in with: only its sign-ins join the tenant. Another provider could
    -- assert any address, so a verified domain alone is not enough.
    provider     text NOT NULL DEFAULT '' CHECK (provider ~ '^[a-z0-9-]{0,40}$'),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE sso_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY sso_settings_scoped ON sso_settings
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY sso_settings_platform_admin ON sso_settings
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE, DELETE ON sso_settings TO secureops_app;

-- The tenant whose SSO covers an email address: it verified the address's
-- domain, is enterprise and usable. Called by Kratos' hooks (no tenant scope).
-- +goose StatementBegin
CREATE FUNCTION secureops_sso_tenant_of(p_email text)
RETURNS TABLE (tenant_id uuid, default_role text, required boolean, provider text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
#variable_conflict use_column
DECLARE prev text := secureops_definer_begin();
BEGIN
    RETURN QUERY
    SELECT d.tenant_id, COALESCE(s.default_role, 'client_readonly'), COALESCE(s.required, false), COALESCE(s.provider, '')
    FROM sso_domains d
    JOIN tenants t ON t.id = d.tenant_id
    LEFT JOIN sso_settings s ON s.tenant_id = d.tenant_id
    WHERE d.status = 'verified' AND d.domain = lower(split_part(p_email, '@', 2))
      AND t.tier = 'enterprise' AND t.status IN ('active', 'onboarding');
    PERFORM set_config('secureops.platform_admin', prev, true);
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION secureops_sso_tenant_of(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_sso_tenant_of(text) TO secureops_app;

-- Just-in-time membership: the person (a Kratos identity that signed in
-- through OIDC provider p_provider, the tenant's own) becomes a user and a member of the tenant covering their
-- address, with its default role, once: a membership they already have (any
-- role) is kept. Returns the tenant and whether they joined now (audited).
-- +goose StatementBegin
CREATE FUNCTION secureops_sso_join(p_user uuid, p_email text, p_name text, p_provider text, p_ip text)
RETURNS TABLE (tenant_id uuid, role text, joined boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
#variable_conflict use_column
DECLARE
    prev text := secureops_definer_begin();
    tid uuid;
    r text;
    n integer;
BEGIN
    SELECT o.tenant_id, o.default_role INTO tid, r FROM secureops_sso_tenant_of(p_email) o
    WHERE o.provider <> '' AND o.provider = p_provider;
    IF tid IS NULL THEN
        PERFORM set_config('secureops.platform_admin', prev, true);
        RETURN;
    END IF;
    INSERT INTO users (id, email, name) VALUES (p_user, lower(p_email), coalesce(p_name, ''))
    ON CONFLICT DO NOTHING;
    INSERT INTO memberships (user_id, tenant_id, role)
    SELECT u.id, tid, r FROM users u WHERE u.id = p_user
    ON CONFLICT (user_id, tenant_id) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        INSERT INTO audit_log (tenant_id, actor_user_id, effective_user_id, action, target_type, target_id, details, ip)
        VALUES (tid, p_user, p_user, 'sso.jit_joined', 'user', p_user::text,
                jsonb_build_object('email', lower(p_email), 'role', r, 'provider', coalesce(p_provider, '')), coalesce(p_ip, ''));
    END IF;
    SELECT m.role INTO r FROM memberships m WHERE m.user_id = p_user AND m.tenant_id = tid;
    PERFORM set_config('secureops.platform_admin', prev, true);
    IF r IS NULL THEN
        -- Another account already has the address (users.email is unique):
        -- nothing joins; Kratos links accounts by address, not us.
        RETURN;
    END IF;
    tenant_id := tid; role := r; joined := n > 0;
    RETURN NEXT;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION secureops_sso_join(uuid, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_sso_join(uuid, text, text, text, text) TO secureops_app;

-- A refusal by SSO (a password sign-in where SSO is required, a sign-up from
-- a domain no tenant verified, a session ended because the identity provider
-- no longer knows the person), audited in the tenant concerned.
-- +goose StatementBegin
CREATE FUNCTION secureops_sso_audit(p_tenant uuid, p_user uuid, p_action text, p_details jsonb, p_ip text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE prev text := secureops_definer_begin();
BEGIN
    IF p_action NOT IN ('sso.password_refused', 'sso.session_ended') THEN
        RAISE EXCEPTION 'not an SSO audit action: %', p_action USING ERRCODE = '22023';
    END IF;
    INSERT INTO audit_log (tenant_id, actor_user_id, effective_user_id, action, target_type, target_id, details, ip)
    SELECT t.id, p_user, p_user, p_action, 'user', coalesce(p_user::text, ''), coalesce(p_details, '{}'::jsonb), coalesce(p_ip, '')
    FROM tenants t
    WHERE t.id = p_tenant OR (p_tenant IS NULL AND t.id IN (SELECT m.tenant_id FROM memberships m WHERE m.user_id = p_user));
    PERFORM set_config('secureops.platform_admin', prev, true);
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION secureops_sso_audit(uuid, uuid, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_sso_audit(uuid, uuid, text, jsonb, text) TO secureops_app;

-- The latest refresh token a person's identity provider gave (sealed with
-- SECUREOPS_SEAL_KEY): the API re-checks an SSO session against the provider
-- with it (internal/sso recheck.go); a provider that rotates refresh tokens
-- answers the next check only to the newest. Reached through the functions
-- below only (no tenant owns it).
CREATE TABLE sso_refresh_tokens (
    user_id    uuid PRIMARY KEY,
    provider   text NOT NULL,
    sealed     bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE sso_refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY sso_refresh_tokens_platform_admin ON sso_refresh_tokens
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));

-- Locks the person's token for the transaction (one re-check at a time, so a
-- rotated token is never used twice) and returns it (none: never stored).
-- +goose StatementBegin
CREATE FUNCTION secureops_sso_token_lock(p_user uuid, p_provider text) RETURNS bytea
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE
    prev text := secureops_definer_begin();
    result bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('sso_refresh/' || p_user::text, 0));
    SELECT t.sealed INTO result FROM sso_refresh_tokens t WHERE t.user_id = p_user AND t.provider = p_provider;
    PERFORM set_config('secureops.platform_admin', prev, true);
    RETURN result;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION secureops_sso_token_lock(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_sso_token_lock(uuid, text) TO secureops_app;

-- +goose StatementBegin
CREATE FUNCTION secureops_sso_token_put(p_user uuid, p_provider text, p_sealed bytea) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE prev text := secureops_definer_begin();
BEGIN
    INSERT INTO sso_refresh_tokens (user_id, provider, sealed) VALUES (p_user, p_provider, p_sealed)
    ON CONFLICT (user_id) DO UPDATE SET provider = EXCLUDED.provider, sealed = EXCLUDED.sealed, updated_at = now();
    PERFORM set_config('secureops.platform_admin', prev, true);
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION secureops_sso_token_put(uuid, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_sso_token_put(uuid, text, bytea) TO secureops_app;

-- +goose Down
DROP FUNCTION secureops_sso_token_put(uuid, text, bytea);
DROP FUNCTION secureops_sso_token_lock(uuid, text);
DROP TABLE sso_refresh_tokens;
DROP FUNCTION secureops_sso_audit(uuid, uuid, text, jsonb, text);
DROP FUNCTION secureops_sso_join(uuid, text, text, text, text);
DROP FUNCTION secureops_sso_tenant_of(text);
DROP TABLE sso_settings;
DROP TABLE sso_domains;
