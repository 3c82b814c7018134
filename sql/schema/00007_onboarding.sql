-- +goose Up
-- What onboarding learns about a tenant from the outside systems it sets up.
-- The ids are looked up before anything is created, so a retried or reset
-- onboarding reuses them instead of making a second customer or product.
-- onboarding_attempt grows each time a failed onboarding is started again:
-- Stripe keeps idempotency keys for 24 h and would otherwise replay the
-- answers of the first attempt (a customer the compensation already deleted).
ALTER TABLE tenants
    ADD COLUMN stripe_customer_id     text,
    ADD COLUMN stripe_subscription_id text,
    ADD COLUMN defectdojo_product_id  bigint,
    ADD COLUMN failure_reason         text,
    ADD COLUMN onboarding_attempt     integer NOT NULL DEFAULT 1;

-- A sign-up before (and while) its tenant exists. The public status URL names
-- it by a random token, stored as a hash only. Email and slug are reserved
-- here so two concurrent sign-ups cannot both pass the "already taken" check.
CREATE TABLE signups (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash   bytea NOT NULL UNIQUE,
    tenant_id    uuid NOT NULL UNIQUE,
    slug         text NOT NULL UNIQUE,
    email        text NOT NULL CHECK (email = lower(email)),
    workflow_id  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signups_email_idx ON signups (email);
ALTER TABLE signups ENABLE ROW LEVEL SECURITY;
ALTER TABLE signups FORCE ROW LEVEL SECURITY;
CREATE POLICY signups_scoped ON signups
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY signups_platform_admin ON signups
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
GRANT SELECT ON signups TO secureops_app;

-- The first API key's secret, sealed with the application key until the
-- owner reveals it once. The row outlives the secret (sealed becomes NULL on
-- reveal or expiry) so a replayed onboarding sees the key was already made.
CREATE TABLE initial_api_keys (
    tenant_id    uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    api_key_id   uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    sealed       bytea,
    expires_at   timestamptz NOT NULL,
    revealed_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE initial_api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE initial_api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY initial_api_keys_scoped ON initial_api_keys
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY initial_api_keys_platform_admin ON initial_api_keys
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
GRANT SELECT, INSERT, UPDATE, DELETE ON initial_api_keys TO secureops_app;

-- The tier's default scan policy. Scheduling lands with the scan-operations
-- work; until then the policy records what the schedule will run.
CREATE TABLE tenant_scan_policies (
    tenant_id             uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    tier                  text NOT NULL CHECK (tier IN ('basic', 'pro', 'enterprise')),
    scanners              text[] NOT NULL,
    max_concurrent_scans  integer NOT NULL CHECK (max_concurrent_scans > 0),
    schedule_interval     interval NOT NULL,
    initial_target        text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenant_scan_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_scan_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_scan_policies_scoped ON tenant_scan_policies
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY tenant_scan_policies_platform_admin ON tenant_scan_policies
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_scan_policies TO secureops_app;

-- Undoing an onboarding removes the owner's user row it created (the Kratos
-- identity is gone too); only the platform-admin policy allows it.
GRANT DELETE ON users TO secureops_app;
GRANT DELETE ON email_outbox TO secureops_app;

-- Sign-up runs before anyone is authenticated. These functions answer
-- exactly what it needs: reserve an email and a slug atomically, and find a
-- sign-up by its token. Nothing else of the tables is reachable unscoped.
-- +goose StatementBegin
CREATE FUNCTION secureops_signup_reserve(p_token_hash bytea, p_tenant uuid, p_slug text, p_email text, p_workflow text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE
    prev text := secureops_definer_begin();
    taken text := '';
BEGIN
    -- Serialise sign-ups for the same address; slugs are serialised by the
    -- unique index.
    PERFORM pg_advisory_xact_lock(hashtextextended('signup/' || p_email, 0));
    IF EXISTS (SELECT 1 FROM tenants t WHERE t.slug = p_slug)
       OR EXISTS (SELECT 1 FROM signups s WHERE s.slug = p_slug) THEN
        taken := 'slug';
    -- An address is taken by a member of a live tenant, or by a sign-up that
    -- has not failed (its tenant row may not exist yet).
    ELSIF EXISTS (SELECT 1 FROM users u JOIN memberships m ON m.user_id = u.id
                  JOIN tenants t ON t.id = m.tenant_id
                  WHERE u.email = p_email AND t.status <> 'failed')
       OR EXISTS (SELECT 1 FROM signups s LEFT JOIN tenants t ON t.id = s.tenant_id
                  WHERE s.email = p_email AND (t.id IS NULL OR t.status <> 'failed')) THEN
        taken := 'email';
    ELSE
        INSERT INTO signups (token_hash, tenant_id, slug, email, workflow_id)
        VALUES (p_token_hash, p_tenant, p_slug, p_email, p_workflow);
    END IF;
    PERFORM set_config('secureops.platform_admin', prev, true);
    RETURN taken;
END
$$;
-- +goose StatementEnd

-- A sign-up whose workflow could not be started is withdrawn, so the person
-- can simply try again.
-- +goose StatementBegin
CREATE FUNCTION secureops_signup_withdraw(p_token_hash bytea) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE prev text := secureops_definer_begin();
BEGIN
    DELETE FROM signups s WHERE s.token_hash = p_token_hash
        AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = s.tenant_id);
    PERFORM set_config('secureops.platform_admin', prev, true);
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION secureops_signup_lookup(p_token_hash bytea)
RETURNS TABLE (tenant_id uuid, workflow_id text, tenant_status text, failure_reason text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE prev text := secureops_definer_begin();
BEGIN
    RETURN QUERY
    SELECT s.tenant_id, s.workflow_id, t.status, t.failure_reason
    FROM signups s LEFT JOIN tenants t ON t.id = s.tenant_id
    WHERE s.token_hash = p_token_hash;
    PERFORM set_config('secureops.platform_admin', prev, true);
END
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION secureops_signup_reserve(bytea, uuid, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION secureops_signup_withdraw(bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION secureops_signup_lookup(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_signup_reserve(bytea, uuid, text, text, text) TO secureops_app;
GRANT EXECUTE ON FUNCTION secureops_signup_withdraw(bytea) TO secureops_app;
GRANT EXECUTE ON FUNCTION secureops_signup_lookup(bytea) TO secureops_app;

-- +goose Down
DROP FUNCTION secureops_signup_lookup(bytea);
DROP FUNCTION secureops_signup_withdraw(bytea);
DROP FUNCTION secureops_signup_reserve(bytea, uuid, text, text, text);
REVOKE DELETE ON email_outbox FROM secureops_app;
REVOKE DELETE ON users FROM secureops_app;
DROP TABLE tenant_scan_policies;
DROP TABLE initial_api_keys;
DROP TABLE signups;
ALTER TABLE tenants
    DROP COLUMN onboarding_attempt,
    DROP COLUMN failure_reason,
    DROP COLUMN defectdojo_product_id,
    DROP COLUMN stripe_subscription_id,
    DROP COLUMN stripe_customer_id;
