-- +goose Up
-- Reports (workflow report/<report-id>): a tenant's numbers gathered by SQL,
-- prose written by rules or a model, rendered as Markdown, HTML and PDF. The
-- row is created by the API (pending); the workflow stores the facts and the
-- three renderings (report_contents) and marks it ready, once: a retried or
-- reset run finds it ready and keeps what was stored.
CREATE TABLE reports (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('executive', 'technical')),
    scan_id       uuid REFERENCES scans (id) ON DELETE SET NULL,
    period_from   timestamptz,
    period_to     timestamptz,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready', 'failed')),
    requested_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    workflow_id   text NOT NULL,
    facts         jsonb,
    prose_source  text NOT NULL DEFAULT '',
    error         text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    ready_at      timestamptz,
    emailed_at    timestamptz,
    -- A scan report (scan_id) or a period report; a scan report whose scan
    -- was deleted keeps what it stored (scan_id becomes NULL).
    CHECK (period_from IS NULL OR (period_to IS NOT NULL AND period_from < period_to))
);
CREATE INDEX reports_tenant_created_idx ON reports (tenant_id, created_at DESC, id DESC);

CREATE TABLE report_contents (
    report_id   uuid PRIMARY KEY REFERENCES reports (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    markdown    text NOT NULL,
    html        text NOT NULL,
    pdf         bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Whether a report was useful, with a comment: by whom (a user or a key).
CREATE TABLE report_feedback (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    report_id   uuid NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    api_key_id  uuid,
    useful      boolean NOT NULL,
    comment     text NOT NULL DEFAULT '' CHECK (length(comment) <= 2000),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_feedback_report_idx ON report_feedback (report_id, created_at);

ALTER TABLE reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE reports FORCE ROW LEVEL SECURITY;
ALTER TABLE report_contents ENABLE ROW LEVEL SECURITY;
ALTER TABLE report_contents FORCE ROW LEVEL SECURITY;
ALTER TABLE report_feedback ENABLE ROW LEVEL SECURITY;
ALTER TABLE report_feedback FORCE ROW LEVEL SECURITY;
CREATE POLICY reports_scoped ON reports
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY reports_platform_admin ON reports
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
CREATE POLICY report_contents_scoped ON report_contents
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY report_contents_platform_admin ON report_contents
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
CREATE POLICY report_feedback_scoped ON report_feedback
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY report_feedback_platform_admin ON report_feedback
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE ON reports TO secureops_app;
GRANT SELECT, INSERT ON report_contents TO secureops_app;
GRANT SELECT, INSERT ON report_feedback TO secureops_app;

-- +goose Down
DROP TABLE report_feedback;
DROP TABLE report_contents;
DROP TABLE reports;
