-- +goose Up
-- Threat intelligence: the CISA Known Exploited Vulnerabilities catalogue and
-- FIRST's EPSS scores, and what each source last loaded. They are platform
-- data, not tenant data: every transaction may read them (a tenant's findings
-- join them), and only the platform scope (the intel activities, through
-- internal/intel) writes them. The application role cannot TRUNCATE or
-- rename them; a refresh replaces their rows inside one transaction.
CREATE TABLE intel_kev (
    cve_id            text PRIMARY KEY CHECK (cve_id ~ '^CVE-[0-9]{4}-[0-9]{4,}$'),
    vendor            text NOT NULL DEFAULT '',
    product           text NOT NULL DEFAULT '',
    name              text NOT NULL DEFAULT '',
    description       text NOT NULL DEFAULT '',
    required_action   text NOT NULL DEFAULT '',
    date_added        date NOT NULL,
    due_date          date,
    known_ransomware  boolean NOT NULL DEFAULT false,
    notes             text NOT NULL DEFAULT '',
    cwes              text[] NOT NULL DEFAULT '{}'
);

CREATE TABLE intel_epss (
    cve         text PRIMARY KEY,
    epss        real NOT NULL CHECK (epss BETWEEN 0 AND 1),
    percentile  real NOT NULL CHECK (percentile BETWEEN 0 AND 1)
);

-- One row per source: where it came from, the validator of the last download
-- (ETag), its version (KEV catalogVersion, EPSS score_date) and publication
-- time, so a refresh can refuse an older file, and how many rows it holds.
CREATE TABLE intel_sources (
    name          text PRIMARY KEY CHECK (name IN ('kev', 'epss')),
    url           text NOT NULL DEFAULT '',
    etag          text NOT NULL DEFAULT '',
    version       text NOT NULL DEFAULT '',
    model_version text NOT NULL DEFAULT '',
    published_at  timestamptz,
    rows          integer NOT NULL DEFAULT 0,
    loaded_at     timestamptz,
    checked_at    timestamptz
);

-- The shapes of the transaction-local staging tables COPY fills (COPY cannot
-- write to tables with row-level security; see finding_stage in 00003). A
-- refresh creates TEMP tables LIKE these, which shadow them for the
-- transaction. They never hold rows.
CREATE TABLE intel_epss_stage (
    cve         text NOT NULL,
    epss        real NOT NULL,
    percentile  real NOT NULL
);
CREATE TABLE intel_kev_stage (LIKE intel_kev);
-- The enrichment's per-batch results, copied in before one UPDATE.
CREATE TABLE finding_enrich_stage (
    id              uuid NOT NULL,
    kev             boolean NOT NULL,
    kev_date_added  date,
    epss            real,
    epss_percentile real,
    priority        smallint NOT NULL,
    sla_due_at      timestamptz
);
REVOKE ALL ON intel_epss_stage, intel_kev_stage, finding_enrich_stage FROM PUBLIC;
GRANT SELECT ON intel_epss_stage, intel_kev_stage, finding_enrich_stage TO secureops_app;

ALTER TABLE intel_kev ENABLE ROW LEVEL SECURITY;
ALTER TABLE intel_kev FORCE ROW LEVEL SECURITY;
ALTER TABLE intel_epss ENABLE ROW LEVEL SECURITY;
ALTER TABLE intel_epss FORCE ROW LEVEL SECURITY;
ALTER TABLE intel_sources ENABLE ROW LEVEL SECURITY;
ALTER TABLE intel_sources FORCE ROW LEVEL SECURITY;
CREATE POLICY intel_kev_read ON intel_kev FOR SELECT USING (true);
CREATE POLICY intel_kev_write ON intel_kev FOR ALL
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
CREATE POLICY intel_epss_read ON intel_epss FOR SELECT USING (true);
CREATE POLICY intel_epss_write ON intel_epss FOR ALL
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
CREATE POLICY intel_sources_read ON intel_sources FOR SELECT USING (true);
CREATE POLICY intel_sources_write ON intel_sources FOR ALL
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE, DELETE ON intel_kev, intel_epss TO secureops_app;
GRANT SELECT, INSERT, UPDATE ON intel_sources TO secureops_app;

-- A finding's exploit intelligence, its priority (findings.Priority, the one
-- rule) and its remediation deadline (first seen + the tenant's SLA days for
-- its severity; a KEV finding gets the critical deadline). Ingest sets them
-- for the findings it writes; the intel refresh for every open finding.
ALTER TABLE findings
    ADD COLUMN kev             boolean NOT NULL DEFAULT false,
    ADD COLUMN kev_date_added  date,
    ADD COLUMN epss            real,
    ADD COLUMN epss_percentile real,
    ADD COLUMN priority        smallint CHECK (priority BETWEEN 0 AND 100),
    ADD COLUMN sla_due_at      timestamptz;
-- Ingest computes them before the upsert (no second pass over the batch):
-- the stage carries them, and sla_days, which the upsert adds to first_seen_at.
ALTER TABLE finding_stage
    ADD COLUMN kev             boolean,
    ADD COLUMN kev_date_added  date,
    ADD COLUMN epss            real,
    ADD COLUMN epss_percentile real,
    ADD COLUMN priority        smallint,
    ADD COLUMN sla_days        integer;
-- The daily refresh rewrites the EPSS fields of most open findings: room on
-- each page lets those updates stay HOT (no index entries) as tables grow.
ALTER TABLE findings SET (fillfactor = 85);
-- Sorting by priority (unset last in descending order) with the keyset on id,
-- and the kev and SLA filters.
CREATE INDEX findings_tenant_priority_idx ON findings (tenant_id, (COALESCE(priority, -1)), id);
CREATE INDEX findings_tenant_kev_idx ON findings (tenant_id, id) WHERE kev;
CREATE INDEX findings_tenant_sla_idx ON findings (tenant_id, sla_due_at)
    WHERE status IN ('new', 'open', 'reopened');
-- The refresh walks the open findings in id order.
CREATE INDEX findings_open_idx ON findings (id) WHERE status IN ('new', 'open', 'reopened');

-- One alert per finding and kind, recorded in the transaction that decides
-- to alert, so retries and resets never alert twice. batch_id groups the
-- alerts one transaction raised for a tenant: the finding.kev webhook event
-- (finding.kev/<batch-id>) and the email (email/kev/<batch-id>/<user-id>).
CREATE TABLE finding_alerts (
    finding_id  uuid NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('kev')),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    batch_id    uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    emailed_at  timestamptz,
    PRIMARY KEY (finding_id, kind)
);
CREATE INDEX finding_alerts_unemailed_idx ON finding_alerts (tenant_id, batch_id) WHERE emailed_at IS NULL;
ALTER TABLE finding_alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE finding_alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY finding_alerts_scoped ON finding_alerts
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY finding_alerts_platform_admin ON finding_alerts
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE ON finding_alerts TO secureops_app;

-- The finding.kev webhook event.
ALTER TABLE webhooks DROP CONSTRAINT webhooks_events_check;
ALTER TABLE webhooks ADD CONSTRAINT webhooks_events_check
    CHECK (cardinality(events) > 0 AND events <@ ARRAY['scan.completed', 'finding.critical', 'finding.kev']);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_type_check;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_type_check
    CHECK (event_type IN ('scan.completed', 'finding.critical', 'finding.kev', 'ping'));

-- +goose Down
DELETE FROM webhook_deliveries WHERE event_type = 'finding.kev';
UPDATE webhooks SET events = array_remove(events, 'finding.kev') WHERE 'finding.kev' = ANY (events);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_type_check;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_type_check
    CHECK (event_type IN ('scan.completed', 'finding.critical', 'ping'));
ALTER TABLE webhooks DROP CONSTRAINT webhooks_events_check;
ALTER TABLE webhooks ADD CONSTRAINT webhooks_events_check
    CHECK (cardinality(events) > 0 AND events <@ ARRAY['scan.completed', 'finding.critical']);
DROP TABLE finding_alerts;
ALTER TABLE findings RESET (fillfactor);
ALTER TABLE finding_stage DROP COLUMN sla_days, DROP COLUMN priority, DROP COLUMN epss_percentile,
    DROP COLUMN epss, DROP COLUMN kev_date_added, DROP COLUMN kev;
DROP INDEX findings_open_idx;
DROP INDEX findings_tenant_sla_idx;
DROP INDEX findings_tenant_kev_idx;
DROP INDEX findings_tenant_priority_idx;
ALTER TABLE findings DROP COLUMN sla_due_at, DROP COLUMN priority, DROP COLUMN epss_percentile,
    DROP COLUMN epss, DROP COLUMN kev_date_added, DROP COLUMN kev;
DROP TABLE finding_enrich_stage;
DROP TABLE intel_kev_stage;
DROP TABLE intel_epss_stage;
DROP TABLE intel_sources;
DROP TABLE intel_epss;
DROP TABLE intel_kev;
