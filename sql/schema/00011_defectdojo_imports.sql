-- +goose Up
-- One DefectDojo re-import per scan and scanner, ever: the row is written
-- right after DefectDojo answers, and checked before anything is sent, so
-- retries and resets of the scan never import twice.
CREATE TABLE scan_defectdojo_imports (
    scan_id     uuid NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    scanner     text NOT NULL,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    test_id     bigint NOT NULL,
    build_id    text NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scan_id, scanner)
);
ALTER TABLE scan_defectdojo_imports ENABLE ROW LEVEL SECURITY;
ALTER TABLE scan_defectdojo_imports FORCE ROW LEVEL SECURITY;
CREATE POLICY scan_defectdojo_imports_scoped ON scan_defectdojo_imports
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY scan_defectdojo_imports_platform_admin ON scan_defectdojo_imports
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT ON scan_defectdojo_imports TO secureops_app;

-- +goose Down
DROP TABLE scan_defectdojo_imports;
