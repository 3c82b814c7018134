-- +goose Up
-- What each scanner's last ingest for a scan contained: a digest of its
-- distinct fingerprints. A re-run (an activity retry, a reset) with the same
-- set has nothing to prune and skips indexing and probing its stage.
CREATE TABLE scan_ingest_digests (
    scan_id    uuid NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    scanner    text NOT NULL,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    digest     bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scan_id, scanner)
);
ALTER TABLE scan_ingest_digests ENABLE ROW LEVEL SECURITY;
ALTER TABLE scan_ingest_digests FORCE ROW LEVEL SECURITY;
CREATE POLICY scan_ingest_digests_scoped ON scan_ingest_digests
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY scan_ingest_digests_platform_admin ON scan_ingest_digests
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE ON scan_ingest_digests TO secureops_app;

-- +goose Down
DROP TABLE scan_ingest_digests;
