-- +goose Up
-- One billing record per scan, written when the scan ends. scan_id is unique
-- so a retried activity or a workflow reset from the Web UI records once.
-- It is a soft reference (no foreign key): usage is what was consumed, and
-- stays when the scan row is deleted.
CREATE TABLE usage_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    scan_id     uuid NOT NULL UNIQUE,
    source      text NOT NULL CHECK (source IN ('scan', 'import')),
    scanners    text[] NOT NULL,
    target      text NOT NULL,
    started_at  timestamptz,
    finished_at timestamptz NOT NULL,
    duration_ms bigint NOT NULL CHECK (duration_ms >= 0),
    status      text NOT NULL CHECK (status IN ('completed', 'failed', 'cancelled')),
    findings    integer NOT NULL DEFAULT 0 CHECK (findings >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_events_tenant_created_idx ON usage_events (tenant_id, created_at DESC, id DESC);
ALTER TABLE usage_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_events FORCE ROW LEVEL SECURITY;
CREATE POLICY usage_events_scoped ON usage_events
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY usage_events_platform_admin ON usage_events
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
-- No UPDATE or DELETE: a billing record, once written, is not rewritten.
GRANT SELECT, INSERT ON usage_events TO secureops_app;

-- The dashboard reads indexes, not the findings heap, and adds as little as
-- possible to ingest, which writes every index whose predicate a row matches:
--
-- * Open findings (by severity, SLA, top targets) come from the open-findings
--   index the fixed sweep already has, widened with severity and first_seen_at
--   so those questions are answered by index-only scans of the tenant's open
--   entries. One index maintained as before (slightly wider entries) instead
--   of a second one written by every ingested row.
-- * Fixed findings (MTTR and the trend's "fixed") come from a partial index on
--   fixed_at. Ingest never writes it (new and re-seen findings have no
--   fixed_at); only the fixed sweep and triage do.
-- * The trend's "new" and "reopened" per day are the scans' diff columns
--   summed by the day the scan finished: scans is small (one row per scan,
--   not per finding), so no index on findings.first_seen_at is needed.
DROP INDEX findings_scan_target_idx;
CREATE INDEX findings_scan_target_idx ON findings (tenant_id, scan_target, reported_by)
    INCLUDE (severity, first_seen_at)
    WHERE status IN ('new', 'open', 'reopened');
CREATE INDEX findings_tenant_fixed_idx ON findings (tenant_id, fixed_at)
    INCLUDE (severity, first_seen_at)
    WHERE fixed_at IS NOT NULL;
-- Scans by finish day (trend) and, since btree keeps NULLs, unfinished scans
-- (queued and running, against the tier's limit).
CREATE INDEX scans_tenant_finished_idx ON scans (tenant_id, finished_at);

-- Tenant users cannot update their tenant row (only the platform-admin
-- policy may); this sets exactly the SLA override of a tenant in the
-- caller's scope and nothing else. p_patch is merged into the stored
-- override; a null value removes that severity's override.
-- +goose StatementBegin
CREATE FUNCTION secureops_tenant_patch_sla_days(p_tenant uuid, p_patch jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE
    prev text;
    result jsonb;
BEGIN
    IF NOT (p_tenant = ANY (secureops_scope()) OR secureops_is_platform_admin()) THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_patch) IS DISTINCT FROM 'object' OR EXISTS (
        SELECT 1 FROM jsonb_each(p_patch) e
        WHERE e.key NOT IN ('critical', 'high', 'medium', 'low')
           OR (jsonb_typeof(e.value) <> 'null'
               AND (jsonb_typeof(e.value) <> 'number' OR e.value::numeric <> trunc(e.value::numeric)
                    OR e.value::numeric NOT BETWEEN 1 AND 365))
    ) THEN
        RAISE EXCEPTION 'invalid SLA days %', p_patch USING ERRCODE = '22023';
    END IF;
    prev := secureops_definer_begin();
    UPDATE tenants
    SET settings = jsonb_set(settings, '{sla_days}',
                             jsonb_strip_nulls(CASE WHEN jsonb_typeof(settings->'sla_days') = 'object'
                                                    THEN settings->'sla_days' ELSE '{}' END || p_patch)),
        updated_at = now()
    WHERE id = p_tenant
    RETURNING settings->'sla_days' INTO result;
    PERFORM set_config('secureops.platform_admin', prev, true);
    RETURN result;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION secureops_tenant_patch_sla_days(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_tenant_patch_sla_days(uuid, jsonb) TO secureops_app;

-- +goose Down
DROP FUNCTION secureops_tenant_patch_sla_days(uuid, jsonb);
DROP INDEX scans_tenant_finished_idx;
DROP INDEX findings_tenant_fixed_idx;
DROP INDEX findings_scan_target_idx;
CREATE INDEX findings_scan_target_idx ON findings (tenant_id, scan_target, reported_by)
    WHERE status IN ('new', 'open', 'reopened');
DROP TABLE usage_events;
