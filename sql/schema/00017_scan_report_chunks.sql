-- +goose Up
-- An imported report arrives in chunks: the API writes each as it reads it,
-- so an upload costs the API one chunk of memory, not the whole report, and
-- the ingest worker (another process) reads them back in order. A report
-- with chunks keeps an empty scan_reports.content; its bytes are
-- content || the chunks by seq. Chunks are written before the scan exists,
-- so they carry no foreign key to it; the API deletes the chunks of an
-- upload it refuses.
CREATE TABLE scan_report_chunks (
    report_id   uuid NOT NULL,
    seq         integer NOT NULL CHECK (seq >= 0),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    data        bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (report_id, seq)
);

ALTER TABLE scan_report_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE scan_report_chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY scan_report_chunks_scoped ON scan_report_chunks
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY scan_report_chunks_platform_admin ON scan_report_chunks
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
GRANT SELECT, INSERT, DELETE ON scan_report_chunks TO secureops_app;

-- +goose Down
DROP TABLE scan_report_chunks;
