-- +goose Up
-- Triage: tenants' own rules, evaluated in position order after the built-in
-- rules (internal/triage), and the append-only history of every triage
-- decision on a finding: the rules', a model's (internal/llmtriage, when
-- configured) and analysts'. A decision that would close a finding
-- (false_positive, suppress) is recorded as proposed and waits for an
-- analyst in the Triage workflow (triage/<scan-id>).
CREATE TABLE triage_rules (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    position    integer NOT NULL CHECK (position >= 0),
    name        text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    scanner     text NOT NULL DEFAULT '' CHECK (length(scanner) <= 64),
    rule_id     text NOT NULL DEFAULT '' CHECK (length(rule_id) <= 500),
    cve         text NOT NULL DEFAULT '' CHECK (length(cve) <= 64),
    cwe         integer NOT NULL DEFAULT 0 CHECK (cwe >= 0),
    target      text NOT NULL DEFAULT '' CHECK (length(target) <= 500),
    title       text NOT NULL DEFAULT '' CHECK (length(title) <= 200),
    title_regex boolean NOT NULL DEFAULT false,
    action      text NOT NULL CHECK (action IN ('set_decision', 'set_severity', 'suppress')),
    decision    text NOT NULL DEFAULT '' CHECK (decision IN ('', 'valid', 'false_positive', 'needs_review')),
    severity    text NOT NULL DEFAULT '' CHECK (severity IN ('', 'critical', 'high', 'medium', 'low', 'info')),
    created_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX triage_rules_tenant_idx ON triage_rules (tenant_id, position, created_at, id);
ALTER TABLE triage_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE triage_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY triage_rules_scoped ON triage_rules
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY triage_rules_platform_admin ON triage_rules
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE, DELETE ON triage_rules TO secureops_app;

-- One row per decision; never updated or deleted by the application. The
-- rules and a model decide once per finding and scan (the unique index makes
-- a retried or reset triage write nothing twice); an analyst approves or
-- rejects once per finding and scan.
CREATE TABLE finding_triage (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    finding_id     uuid NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    scan_id        uuid NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    source         text NOT NULL CHECK (source IN ('rules', 'llm', 'analyst')),
    model          text NOT NULL DEFAULT '',
    prompt_version text NOT NULL DEFAULT '',
    decision       text NOT NULL CHECK (decision IN ('valid', 'false_positive', 'needs_review', 'suppress')),
    severity       text NOT NULL DEFAULT '',
    confidence     real NOT NULL DEFAULT 1 CHECK (confidence >= 0 AND confidence <= 1),
    reasoning      text NOT NULL DEFAULT '' CHECK (length(reasoning) <= 4000),
    rule_id        uuid,
    status         text NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected')),
    approved_by    text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX finding_triage_once_idx ON finding_triage (scan_id, finding_id, source);
CREATE INDEX finding_triage_latest_idx ON finding_triage (finding_id, id DESC);
ALTER TABLE finding_triage ENABLE ROW LEVEL SECURITY;
ALTER TABLE finding_triage FORCE ROW LEVEL SECURITY;
CREATE POLICY finding_triage_scoped ON finding_triage
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY finding_triage_platform_admin ON finding_triage
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT ON finding_triage TO secureops_app;

-- +goose Down
DROP TABLE finding_triage;
DROP TABLE triage_rules;
