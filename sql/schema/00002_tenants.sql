-- +goose Up
CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    parent_id   uuid REFERENCES tenants (id) ON DELETE RESTRICT,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 63),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    tier        text NOT NULL DEFAULT 'basic' CHECK (tier IN ('basic', 'pro', 'enterprise')),
    status      text NOT NULL DEFAULT 'onboarding'
                CHECK (status IN ('onboarding', 'active', 'suspended', 'cancelled', 'failed')),
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenants_parent_idx ON tenants (parent_id);

-- A tenant row is visible to callers scoped to it (the scope already holds
-- its descendants); platform admins have an explicit policy instead of BYPASSRLS.
-- tenant_id mirrors id so the "every tenant_id table has forced RLS" rule covers it.
ALTER TABLE tenants ADD COLUMN tenant_id uuid GENERATED ALWAYS AS (id) STORED;
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
-- Tenant users read their subtree and create sub-tenants in it; only the
-- platform-admin policy may change a tenant (status, tier, parent).
CREATE POLICY tenants_scoped_read ON tenants FOR SELECT
    USING (id = ANY (secureops_scope()));
CREATE POLICY tenants_scoped_create ON tenants FOR INSERT
    WITH CHECK (id = ANY (secureops_scope()) AND parent_id = ANY (secureops_scope()));
CREATE POLICY tenants_platform_admin ON tenants
    USING (secureops_is_platform_admin())
    WITH CHECK (secureops_is_platform_admin());
GRANT SELECT, INSERT, UPDATE ON tenants TO secureops_app;

-- +goose Down
DROP TABLE tenants;
