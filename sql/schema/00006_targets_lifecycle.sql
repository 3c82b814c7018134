-- +goose Up
-- What a tenant may scan. A target is scanned actively only once its owner has
-- proved control of it (DNS TXT record or a file on the web server); images
-- are pulled, not attacked, and need no proof.
CREATE TABLE targets (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind                 text NOT NULL CHECK (kind IN ('domain', 'host', 'url', 'image')),
    -- Canonical one-string form (targets.Target.String), what scans carry.
    value                text NOT NULL CHECK (length(value) BETWEEN 1 AND 2048),
    -- The DNS name or address proof is about ('' for images).
    host                 text NOT NULL DEFAULT '',
    name                 text NOT NULL DEFAULT '',
    verification_token   text NOT NULL,
    verification_status  text NOT NULL DEFAULT 'unverified'
                         CHECK (verification_status IN ('unverified', 'pending', 'verified', 'failed', 'not_required')),
    verification_method  text NOT NULL DEFAULT ''
                         CHECK (verification_method IN ('', 'dns', 'http', 'auto')),
    verification_error   text NOT NULL DEFAULT '',
    verification_checks  integer NOT NULL DEFAULT 0,
    verification_started_at timestamptz,
    verification_checked_at timestamptz,
    verified_at          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, value)
);
CREATE INDEX targets_tenant_created_idx ON targets (tenant_id, created_at DESC, id DESC);
ALTER TABLE targets ENABLE ROW LEVEL SECURITY;
ALTER TABLE targets FORCE ROW LEVEL SECURITY;
CREATE POLICY targets_scoped ON targets
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY targets_platform_admin ON targets
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
GRANT SELECT, INSERT, UPDATE, DELETE ON targets TO secureops_app;

-- Scans know their registered target (kept when the target is deleted: the
-- history stays), whether they came from an upload, and what they changed.
ALTER TABLE scans
    ADD COLUMN target_id     uuid REFERENCES targets (id) ON DELETE SET NULL,
    ADD COLUMN source        text NOT NULL DEFAULT 'scan' CHECK (source IN ('scan', 'import')),
    -- Only a complete scan may mark findings fixed: an upload of a partial
    -- report or a failed scanner says nothing about what is gone.
    ADD COLUMN complete      boolean NOT NULL DEFAULT true,
    ADD COLUMN diff_new      integer NOT NULL DEFAULT 0,
    ADD COLUMN diff_open     integer NOT NULL DEFAULT 0,
    ADD COLUMN diff_fixed    integer NOT NULL DEFAULT 0,
    ADD COLUMN diff_reopened integer NOT NULL DEFAULT 0;
CREATE INDEX scans_target_idx ON scans (target_id, created_at DESC);

-- A finding belongs to the scan target it was found on and the scanner
-- (report format) that reported it: "fixed" means absent from a complete scan
-- of that target by that scanner. reported_by is the scan's scanner name,
-- not the tool a generic report names in each finding.
ALTER TABLE findings
    ADD COLUMN scan_target    text NOT NULL DEFAULT '',
    ADD COLUMN reported_by    text NOT NULL DEFAULT '',
    -- Soft references, like last_scan_id below: a foreign key check per row
    -- costs more than the whole upsert of a large report, and scans are only
    -- ever deleted together with their tenant (and its findings).
    ADD COLUMN first_scan_id  uuid,
    ADD COLUMN fixed_at       timestamptz,
    ADD COLUMN status_changed_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE findings DROP CONSTRAINT findings_last_scan_id_fkey;
-- scan_findings.tenant_id repeats its scan's tenant (for RLS); the scan_id
-- key already ties it to a tenant.
ALTER TABLE scan_findings DROP CONSTRAINT scan_findings_tenant_id_fkey;
-- Listing by severity uses the keyset indexes below plus a filter; this one
-- only made every ingest slower.
DROP INDEX findings_tenant_severity_idx;
-- Keyset listing (newest first, the default sort) and the fixed sweep.
CREATE INDEX findings_tenant_last_seen_idx ON findings (tenant_id, last_seen_at DESC, id DESC);
CREATE INDEX findings_scan_target_idx ON findings (tenant_id, scan_target, reported_by)
    WHERE status IN ('new', 'open', 'reopened');
CREATE INDEX findings_cves_idx ON findings USING gin (cves);

-- What each occurrence meant for the finding: seen for the first time (new),
-- seen again (open), seen again after it was fixed (reopened), or — for a
-- complete scan — gone (fixed). Rows with change 'fixed' are not occurrences.
ALTER TABLE scan_findings
    ADD COLUMN change text NOT NULL DEFAULT 'open' CHECK (change IN ('new', 'open', 'reopened', 'fixed'));

-- Triage history: who moved a finding to which status, and why.
CREATE TABLE finding_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    finding_id  uuid NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    actor       text NOT NULL,
    from_status text NOT NULL,
    to_status   text NOT NULL,
    comment     text NOT NULL DEFAULT '' CHECK (length(comment) <= 4000),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX finding_events_finding_idx ON finding_events (finding_id, id);
ALTER TABLE finding_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE finding_events FORCE ROW LEVEL SECURITY;
CREATE POLICY finding_events_scoped ON finding_events
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY finding_events_platform_admin ON finding_events
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
GRANT SELECT, INSERT ON finding_events TO secureops_app;

-- Every policy reads the scope as an InitPlan, evaluated once per statement,
-- instead of calling the scope functions (current_setting and a uuid[] cast)
-- for every row: on a 100k-finding ingest that was most of the time spent in
-- the policy checks.
-- +goose StatementBegin
DO $$
DECLARE
    p record;
    q text;
    c text;
BEGIN
    FOR p IN SELECT schemaname, tablename, policyname, qual, with_check FROM pg_policies WHERE schemaname = 'public' LOOP
        q := replace(replace(p.qual, 'secureops_scope()', '((SELECT secureops_scope())::uuid[])'),
                     'secureops_is_platform_admin()', '(SELECT secureops_is_platform_admin())');
        c := replace(replace(p.with_check, 'secureops_scope()', '((SELECT secureops_scope())::uuid[])'),
                     'secureops_is_platform_admin()', '(SELECT secureops_is_platform_admin())');
        IF q IS NOT NULL THEN
            EXECUTE format('ALTER POLICY %I ON %I.%I USING (%s)', p.policyname, p.schemaname, p.tablename, q);
        END IF;
        IF c IS NOT NULL THEN
            EXECUTE format('ALTER POLICY %I ON %I.%I WITH CHECK (%s)', p.policyname, p.schemaname, p.tablename, c);
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- (The InitPlan form of the policies is equivalent; it stays.)
DROP TABLE finding_events;
ALTER TABLE scan_findings DROP COLUMN change;
DROP INDEX findings_cves_idx;
DROP INDEX findings_scan_target_idx;
DROP INDEX findings_tenant_last_seen_idx;
CREATE INDEX findings_tenant_severity_idx ON findings (tenant_id, severity, id);
ALTER TABLE scan_findings ADD CONSTRAINT scan_findings_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
ALTER TABLE findings ADD CONSTRAINT findings_last_scan_id_fkey FOREIGN KEY (last_scan_id) REFERENCES scans (id) ON DELETE SET NULL;
ALTER TABLE findings DROP COLUMN status_changed_at, DROP COLUMN fixed_at,
    DROP COLUMN first_scan_id, DROP COLUMN reported_by, DROP COLUMN scan_target;
DROP INDEX scans_target_idx;
ALTER TABLE scans DROP COLUMN diff_reopened, DROP COLUMN diff_fixed, DROP COLUMN diff_open,
    DROP COLUMN diff_new, DROP COLUMN complete, DROP COLUMN source, DROP COLUMN target_id;
DROP TABLE targets;
