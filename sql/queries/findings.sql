-- name: FindingStageCopy :copyfrom
INSERT INTO finding_stage (
    fingerprint, title, severity, cves, cwes, cvss_score, cvss_vector, component,
    component_version, host, port, protocol, url, target, scanner, rule_id, description,
    remediation, refs, evidence, kev, kev_date_added, epss, epss_percentile, priority, sla_days
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
    $21, $22, $23, $24, $25, $26
);

-- name: FindingUpsertFromStage :execrows
-- One statement for the whole batch: upsert the findings and record their
-- occurrence in this scan from the upsert's RETURNING (looking the findings
-- up again costs a join per row under RLS, ≈ 10× the upsert itself). DISTINCT ON keeps the worst severity when
-- a report repeats a fingerprint (ON CONFLICT cannot touch a row twice).
-- Status, per scan that sees the finding: new → open, reopened → open,
-- fixed → reopened; triage states (false_positive, accepted_risk) stay.
-- A retry of the same scan with the same content updates nothing (the
-- conflict WHERE), which is what makes a re-import nearly free.
-- The stage carries each finding's intel and priority (computed by ingest
-- from the intel tables, findings.Priority) and its SLA days: the deadline
-- is first seen + those days (of 24 hours, as findings.SLADue counts them,
-- whatever the session time zone); sla_due_at - now() is the days again in the
-- conflict branch, where first_seen_at is the stored one.
WITH up AS (
INSERT INTO findings (
    tenant_id, fingerprint, title, severity, cves, cwes, cvss_score, cvss_vector,
    component, component_version, host, port, protocol, url, target, scanner, rule_id,
    description, remediation, refs, evidence, last_scan_id, first_scan_id, scan_target, reported_by,
    kev, kev_date_added, epss, epss_percentile, priority, sla_due_at
)
SELECT
    sqlc.arg(tenant_id)::uuid, s.fingerprint, s.title, s.severity, s.cves, s.cwes, s.cvss_score,
    s.cvss_vector, s.component, s.component_version, s.host, s.port, s.protocol, s.url,
    s.target, s.scanner, s.rule_id, s.description, s.remediation, s.refs, s.evidence,
    sqlc.arg(scan_id)::uuid, sqlc.arg(scan_id)::uuid, sqlc.arg(scan_target)::text, sqlc.arg(reported_by)::text,
    COALESCE(s.kev, false), s.kev_date_added, s.epss, s.epss_percentile, s.priority,
    now() + make_interval(hours => s.sla_days * 24)
FROM (
    SELECT DISTINCT ON (fingerprint) *
    FROM finding_stage
    ORDER BY fingerprint,
             CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END DESC
) s
-- A retry of the same scan with unchanged content has nothing to write:
-- leaving those rows out here is much cheaper than letting ON CONFLICT find,
-- lock and skip them.
WHERE NOT EXISTS (
    SELECT 1 FROM findings f
    WHERE f.tenant_id = sqlc.arg(tenant_id)::uuid AND f.fingerprint = s.fingerprint
      AND f.last_scan_id = sqlc.arg(scan_id)::uuid
      AND (f.title, f.severity, f.cves, f.cwes, f.cvss_score, f.cvss_vector, f.component, f.component_version,
           f.description, f.remediation, f.refs, f.evidence, f.scan_target, f.reported_by)
          IS NOT DISTINCT FROM
          (s.title, s.severity, s.cves, s.cwes, s.cvss_score, s.cvss_vector, s.component, s.component_version,
           s.description, s.remediation, s.refs, s.evidence, sqlc.arg(scan_target)::text, sqlc.arg(reported_by)::text))
ON CONFLICT (tenant_id, fingerprint) DO UPDATE SET
    title = EXCLUDED.title,
    severity = EXCLUDED.severity,
    cves = EXCLUDED.cves,
    cwes = EXCLUDED.cwes,
    cvss_score = EXCLUDED.cvss_score,
    cvss_vector = EXCLUDED.cvss_vector,
    component = EXCLUDED.component,
    component_version = EXCLUDED.component_version,
    description = EXCLUDED.description,
    remediation = EXCLUDED.remediation,
    refs = EXCLUDED.refs,
    evidence = EXCLUDED.evidence,
    scan_target = EXCLUDED.scan_target,
    reported_by = EXCLUDED.reported_by,
    kev = EXCLUDED.kev,
    kev_date_added = EXCLUDED.kev_date_added,
    epss = EXCLUDED.epss,
    epss_percentile = EXCLUDED.epss_percentile,
    priority = EXCLUDED.priority,
    sla_due_at = findings.first_seen_at + (EXCLUDED.sla_due_at - now()),
    last_seen_at = CASE WHEN findings.last_scan_id IS NOT DISTINCT FROM EXCLUDED.last_scan_id
                        THEN findings.last_seen_at ELSE now() END,
    last_scan_id = EXCLUDED.last_scan_id,
    fixed_at = CASE WHEN findings.last_scan_id IS NOT DISTINCT FROM EXCLUDED.last_scan_id
                    THEN findings.fixed_at ELSE NULL END,
    status = CASE
        WHEN findings.last_scan_id IS NOT DISTINCT FROM EXCLUDED.last_scan_id THEN findings.status
        WHEN findings.status = 'fixed' THEN 'reopened'
        WHEN findings.status IN ('new', 'reopened') THEN 'open'
        ELSE findings.status
    END,
    status_changed_at = CASE
        WHEN findings.last_scan_id IS NOT DISTINCT FROM EXCLUDED.last_scan_id THEN findings.status_changed_at
        WHEN findings.status IN ('new', 'reopened', 'fixed') THEN now()
        ELSE findings.status_changed_at
    END
WHERE findings.last_scan_id IS DISTINCT FROM EXCLUDED.last_scan_id
   OR (findings.title, findings.severity, findings.cves, findings.cwes, findings.cvss_score,
       findings.cvss_vector, findings.component, findings.component_version, findings.description,
       findings.remediation, findings.refs, findings.evidence, findings.scan_target, findings.reported_by)
      IS DISTINCT FROM
      (EXCLUDED.title, EXCLUDED.severity, EXCLUDED.cves, EXCLUDED.cwes, EXCLUDED.cvss_score,
       EXCLUDED.cvss_vector, EXCLUDED.component, EXCLUDED.component_version, EXCLUDED.description,
       EXCLUDED.remediation, EXCLUDED.refs, EXCLUDED.evidence, EXCLUDED.scan_target, EXCLUDED.reported_by)
RETURNING id, tenant_id, severity, status, first_scan_id
)
INSERT INTO scan_findings (scan_id, finding_id, tenant_id, severity, change)
SELECT sqlc.arg(scan_id)::uuid, up.id, up.tenant_id, up.severity,
       CASE WHEN up.first_scan_id = sqlc.arg(scan_id)::uuid THEN 'new'
            WHEN up.status = 'reopened' THEN 'reopened'
            ELSE 'open' END
FROM up
ON CONFLICT (scan_id, finding_id) DO UPDATE SET severity = EXCLUDED.severity, change = EXCLUDED.change;

-- name: FindingsMarkFixed :execrows
-- After a complete scan: every open finding of this target and these
-- scanners that the scan did not see is fixed, and the scan records it.
WITH gone AS (
    UPDATE findings f
    SET status = 'fixed', fixed_at = now(), status_changed_at = now()
    WHERE f.tenant_id = sqlc.arg(tenant_id)::uuid
      AND f.scan_target = sqlc.arg(scan_target)::text
      AND f.reported_by = ANY (sqlc.arg(scanners)::text[])
      AND f.status IN ('new', 'open', 'reopened')
      AND NOT EXISTS (
          SELECT 1 FROM scan_findings sf
          WHERE sf.scan_id = sqlc.arg(scan_id)::uuid AND sf.finding_id = f.id)
    RETURNING f.id, f.tenant_id, f.severity
)
INSERT INTO scan_findings (scan_id, finding_id, tenant_id, severity, change)
SELECT sqlc.arg(scan_id)::uuid, gone.id, gone.tenant_id, gone.severity, 'fixed' FROM gone
ON CONFLICT (scan_id, finding_id) DO NOTHING;

-- name: FindingListByScan :many
-- Keyset pagination on id. The severity filter uses the severity this scan
-- recorded, the same one its counts are made of. Without a change filter the
-- list is the scan's occurrences (what it found), not what it fixed.
SELECT sqlc.embed(f), sf.change
FROM scan_findings sf
JOIN findings f ON f.id = sf.finding_id
WHERE sf.scan_id = sqlc.arg(scan_id)
  AND (sqlc.narg(severity)::text IS NULL OR sf.severity = sqlc.narg(severity)::text)
  AND CASE WHEN sqlc.narg(change)::text IS NULL THEN sf.change <> 'fixed'
           ELSE sf.change = sqlc.narg(change)::text END
  AND (sqlc.narg(after_id)::uuid IS NULL OR f.id > sqlc.narg(after_id)::uuid)
ORDER BY f.id
LIMIT sqlc.arg(lim);

-- name: FindingGet :one
SELECT * FROM findings WHERE id = $1;

-- name: FindingGetForUpdate :one
SELECT * FROM findings WHERE id = $1 FOR UPDATE;

-- name: FindingSetStatus :one
-- Triage. "fixed" by hand is allowed (the next scan reopens it if it is not).
UPDATE findings
SET status = sqlc.arg(status)::text,
    status_changed_at = now(),
    fixed_at = CASE WHEN sqlc.arg(status)::text = 'fixed' THEN COALESCE(fixed_at, now()) ELSE NULL END
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: FindingEventAdd :exec
INSERT INTO finding_events (tenant_id, finding_id, actor, from_status, to_status, comment)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: FindingEvents :many
SELECT * FROM finding_events WHERE finding_id = $1 ORDER BY id DESC LIMIT 100;

-- name: FindingOccurrences :many
-- The finding's history across scans, newest first.
SELECT s.id AS scan_id, s.target, s.source, s.status, s.created_at, sf.change, sf.severity
FROM scan_findings sf
JOIN scans s ON s.id = sf.scan_id
WHERE sf.finding_id = $1
ORDER BY s.created_at DESC, s.id DESC
LIMIT 50;
