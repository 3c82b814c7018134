-- +goose Up
-- A tenant's own logo, shown on its reports (HTML and PDF) beside the
-- platform's brand. Uploaded by its owners and admins (PUT
-- /api/v1/branding/logo): a PNG or JPEG, size-capped and decoded before it
-- is kept, stored re-encoded as PNG (no metadata, one format for both
-- renderings). One row per tenant; row-level security like every tenant table.
CREATE TABLE tenant_logos (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    png        bytea NOT NULL CHECK (octet_length(png) BETWEEN 1 AND 2097152),
    width      integer NOT NULL CHECK (width BETWEEN 1 AND 4096),
    height     integer NOT NULL CHECK (height BETWEEN 1 AND 4096),
    sha256     text NOT NULL,
    updated_by uuid,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenant_logos ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_logos FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_logos_scoped ON tenant_logos
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY tenant_logos_platform_admin ON tenant_logos
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_logos TO secureops_app;

-- +goose Down
DROP TABLE tenant_logos;
