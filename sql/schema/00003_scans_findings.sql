-- +goose Up
CREATE TABLE scans (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    target           text NOT NULL CHECK (length(target) BETWEEN 1 AND 2048),
    scanners         text[] NOT NULL CHECK (cardinality(scanners) > 0),
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    progress         integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    progress_message text NOT NULL DEFAULT '',
    workflow_id      text NOT NULL,
    -- The Temporal run that owns the row: a reset from the Web UI starts a new
    -- run, which takes the scan over; late writes of older runs are ignored.
    run_id           text NOT NULL DEFAULT '',
    error            text,
    count_critical   integer NOT NULL DEFAULT 0,
    count_high       integer NOT NULL DEFAULT 0,
    count_medium     integer NOT NULL DEFAULT 0,
    count_low        integer NOT NULL DEFAULT 0,
    count_info       integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE INDEX scans_tenant_created_idx ON scans (tenant_id, created_at DESC, id DESC);

-- Raw scanner output, kept so a report can be re-parsed when a parser improves
-- and so the scanner worker hands the ingest step an id, not megabytes of XML
-- through Temporal history.
CREATE TABLE scan_reports (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    scan_id     uuid NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    scanner     text NOT NULL,
    content     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (scan_id, scanner)
);

CREATE TABLE findings (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    fingerprint       text NOT NULL,
    title             text NOT NULL,
    severity          text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
    status            text NOT NULL DEFAULT 'new'
                      CHECK (status IN ('new', 'open', 'fixed', 'reopened', 'false_positive', 'accepted_risk')),
    cves              text[] NOT NULL DEFAULT '{}',
    cwes              integer[] NOT NULL DEFAULT '{}',
    cvss_score        double precision NOT NULL DEFAULT 0,
    cvss_vector       text NOT NULL DEFAULT '',
    component         text NOT NULL DEFAULT '',
    component_version text NOT NULL DEFAULT '',
    host              text NOT NULL DEFAULT '',
    port              integer NOT NULL DEFAULT 0,
    protocol          text NOT NULL DEFAULT '',
    url               text NOT NULL DEFAULT '',
    target            text NOT NULL DEFAULT '',
    scanner           text NOT NULL,
    rule_id           text NOT NULL DEFAULT '',
    description       text NOT NULL DEFAULT '',
    remediation       text NOT NULL DEFAULT '',
    refs              text[] NOT NULL DEFAULT '{}',
    evidence          text NOT NULL DEFAULT '',
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    last_scan_id      uuid REFERENCES scans (id) ON DELETE SET NULL,
    UNIQUE (tenant_id, fingerprint)
);
CREATE INDEX findings_tenant_severity_idx ON findings (tenant_id, severity, id);

-- One occurrence per (scan, finding): the history of an issue across scans.
CREATE TABLE scan_findings (
    scan_id     uuid NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    finding_id  uuid NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    severity    text NOT NULL,
    PRIMARY KEY (scan_id, finding_id)
);
CREATE INDEX scan_findings_finding_idx ON scan_findings (finding_id);

-- The shape of the per-transaction staging table that COPY fills before the
-- upsert. Ingest creates a TEMP table LIKE this one (ON COMMIT DROP), which
-- shadows it through search_path: COPY cannot write to tables with RLS, and a
-- temp table is private to its session anyway. This table never holds rows.
CREATE TABLE finding_stage (
    fingerprint       text NOT NULL,
    title             text NOT NULL,
    severity          text NOT NULL,
    cves              text[] NOT NULL,
    cwes              integer[] NOT NULL,
    cvss_score        double precision NOT NULL,
    cvss_vector       text NOT NULL,
    component         text NOT NULL,
    component_version text NOT NULL,
    host              text NOT NULL,
    port              integer NOT NULL,
    protocol          text NOT NULL,
    url               text NOT NULL,
    target            text NOT NULL,
    scanner           text NOT NULL,
    rule_id           text NOT NULL,
    description       text NOT NULL,
    remediation       text NOT NULL,
    refs              text[] NOT NULL,
    evidence          text NOT NULL
);
REVOKE ALL ON finding_stage FROM PUBLIC;
GRANT SELECT ON finding_stage TO secureops_app;

ALTER TABLE scans ENABLE ROW LEVEL SECURITY;
ALTER TABLE scans FORCE ROW LEVEL SECURITY;
ALTER TABLE scan_reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE scan_reports FORCE ROW LEVEL SECURITY;
ALTER TABLE findings ENABLE ROW LEVEL SECURITY;
ALTER TABLE findings FORCE ROW LEVEL SECURITY;
ALTER TABLE scan_findings ENABLE ROW LEVEL SECURITY;
ALTER TABLE scan_findings FORCE ROW LEVEL SECURITY;

CREATE POLICY scans_scoped ON scans
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY scans_platform_admin ON scans
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
CREATE POLICY scan_reports_scoped ON scan_reports
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY scan_reports_platform_admin ON scan_reports
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
CREATE POLICY findings_scoped ON findings
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY findings_platform_admin ON findings
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
CREATE POLICY scan_findings_scoped ON scan_findings
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY scan_findings_platform_admin ON scan_findings
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());

GRANT SELECT, INSERT, UPDATE ON scans TO secureops_app;
GRANT SELECT, INSERT, UPDATE ON scan_reports TO secureops_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON findings TO secureops_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON scan_findings TO secureops_app;

-- +goose Down
DROP TABLE finding_stage;
DROP TABLE scan_findings;
DROP TABLE findings;
DROP TABLE scan_reports;
DROP TABLE scans;
