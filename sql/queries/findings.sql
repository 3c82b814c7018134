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
-- Several scanners may report one finding (findings.Canonical): each has
-- its entry in reporters (replaced here, "gone" cleared); the finding's own
-- columns stay those of its first reporter (reported_by), its severity is
-- the highest of the current reporters', and the occurrence lists the
-- scanners of this scan that saw it.
WITH up AS (
INSERT INTO findings (
    tenant_id, fingerprint, title, severity, cves, cwes, cvss_score, cvss_vector,
    component, component_version, host, port, protocol, url, target, scanner, rule_id,
    description, remediation, refs, evidence, last_scan_id, first_scan_id, scan_target, reported_by,
    kev, kev_date_added, epss, epss_percentile, priority, sla_due_at, reporters
)
SELECT
    sqlc.arg(tenant_id)::uuid, s.fingerprint, s.title, s.severity, s.cves, s.cwes, s.cvss_score,
    s.cvss_vector, s.component, s.component_version, s.host, s.port, s.protocol, s.url,
    s.target, s.scanner, s.rule_id, s.description, s.remediation, s.refs, s.evidence,
    sqlc.arg(scan_id)::uuid, sqlc.arg(scan_id)::uuid, sqlc.arg(scan_target)::text, sqlc.arg(reported_by)::text,
    COALESCE(s.kev, false), s.kev_date_added, s.epss, s.epss_percentile, s.priority,
    now() + make_interval(hours => s.sla_days * 24),
    jsonb_build_object(sqlc.arg(reported_by)::text, jsonb_build_object('rule_id', s.rule_id, 'title', s.title,
        'severity', s.severity, 'evidence', s.evidence, 'last_scan_id', sqlc.arg(scan_id)::uuid))
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
      -- IS NOT DISTINCT FROM, not =: only the fingerprint may be a join key.
      -- Right after a large import the statistics say findings is empty; an
      -- equality here becomes a hash key, the planner picks a nested loop
      -- over a sequential scan, and a 100k re-import never ends.
      AND f.scan_target IS NOT DISTINCT FROM sqlc.arg(scan_target)::text
      AND f.reporters -> sqlc.arg(reported_by)::text IS NOT DISTINCT FROM jsonb_build_object('rule_id', s.rule_id, 'title', s.title,
          'severity', s.severity, 'evidence', s.evidence, 'last_scan_id', sqlc.arg(scan_id)::uuid)
      AND (f.reported_by <> sqlc.arg(reported_by)::text OR
          (f.title, f.severity, f.cves, f.cwes, f.cvss_score, f.cvss_vector, f.component, f.component_version,
           f.description, f.remediation, f.refs, f.evidence)
          IS NOT DISTINCT FROM
          (s.title, s.severity, s.cves, s.cwes, s.cvss_score, s.cvss_vector, s.component, s.component_version,
           s.description, s.remediation, s.refs, s.evidence)))
ON CONFLICT (tenant_id, fingerprint) DO UPDATE SET
    title = CASE WHEN findings.reported_by = EXCLUDED.reported_by THEN EXCLUDED.title ELSE findings.title END,
    severity = CASE WHEN findings.reporters - EXCLUDED.reported_by = '{}'::jsonb THEN EXCLUDED.severity
                    ELSE secureops_reported_severity(findings.reporters - EXCLUDED.reported_by, EXCLUDED.severity) END,
    cves = CASE WHEN findings.reported_by = EXCLUDED.reported_by THEN EXCLUDED.cves ELSE findings.cves END,
    cwes = CASE WHEN findings.reported_by = EXCLUDED.reported_by THEN EXCLUDED.cwes ELSE findings.cwes END,
    cvss_score = CASE WHEN findings.reported_by = EXCLUDED.reported_by THEN EXCLUDED.cvss_score ELSE findings.cvss_score END,
    cvss_vector = CASE WHEN findings.reported_by = EXCLUDED.reported_by THEN EXCLUDED.cvss_vector ELSE findings.cvss_vector END,
    component = CASE WHEN findings.reported_by = EXCLUDED.reported_by THEN EXCLUDED.component ELSE findings.component END,
    component_version = CASE WHEN findings.reported_by = EXCLUDED.reported_by THEN EXCLUDED.component_version ELSE findings.component_version END,
    description = CASE WHEN findings.reported_by = EXCLUDED.reported_by THEN EXCLUDED.description ELSE findings.description END,
    remediation = CASE WHEN findings.reported_by = EXCLUDED.reported_by THEN EXCLUDED.remediation ELSE findings.remediation END,
    refs = CASE WHEN findings.reported_by = EXCLUDED.reported_by THEN EXCLUDED.refs ELSE findings.refs END,
    evidence = CASE WHEN findings.reported_by = EXCLUDED.reported_by THEN EXCLUDED.evidence ELSE findings.evidence END,
    reporters = findings.reporters || EXCLUDED.reporters,
    scan_target = EXCLUDED.scan_target,
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
   OR findings.scan_target IS DISTINCT FROM EXCLUDED.scan_target
   OR findings.reporters -> EXCLUDED.reported_by IS DISTINCT FROM EXCLUDED.reporters -> EXCLUDED.reported_by
   OR (findings.reported_by = EXCLUDED.reported_by AND
       (findings.title, findings.severity, findings.cves, findings.cwes, findings.cvss_score,
       findings.cvss_vector, findings.component, findings.component_version, findings.description,
       findings.remediation, findings.refs, findings.evidence)
      IS DISTINCT FROM
      (EXCLUDED.title, EXCLUDED.severity, EXCLUDED.cves, EXCLUDED.cwes, EXCLUDED.cvss_score,
       EXCLUDED.cvss_vector, EXCLUDED.component, EXCLUDED.component_version, EXCLUDED.description,
       EXCLUDED.remediation, EXCLUDED.refs, EXCLUDED.evidence))
RETURNING id, tenant_id, severity, status, first_scan_id
)
INSERT INTO scan_findings (scan_id, finding_id, tenant_id, severity, change, scanners)
SELECT sqlc.arg(scan_id)::uuid, up.id, up.tenant_id, up.severity,
       CASE WHEN up.first_scan_id = sqlc.arg(scan_id)::uuid THEN 'new'
            WHEN up.status = 'reopened' THEN 'reopened'
            ELSE 'open' END,
       ARRAY[sqlc.arg(reported_by)::text]
FROM up
ON CONFLICT (scan_id, finding_id) DO UPDATE SET severity = EXCLUDED.severity, change = EXCLUDED.change,
    scanners = CASE WHEN EXCLUDED.scanners[1] = ANY (scan_findings.scanners) THEN scan_findings.scanners
                    ELSE scan_findings.scanners || EXCLUDED.scanners END;

-- name: FindingsMarkFixed :execrows
-- After a complete scan: every open finding of this target reported by one
-- of these scanners that the scan did not see is gone for those scanners
-- (its reporters' "gone"); it is fixed once it is gone for every scanner
-- that reported it, and the scan records that. A finding another scanner
-- reported, which this scan did not run, stays open.
WITH cand AS (
    SELECT f.id,
           (SELECT jsonb_object_agg(e.key,
                       CASE WHEN e.key = ANY (sqlc.arg(scanners)::text[]) AND NOT (e.key = ANY (COALESCE(sf.scanners, '{}')))
                            THEN e.value || '{"gone": true}'::jsonb ELSE e.value END)
            FROM jsonb_each(f.reporters) e) AS reps
    FROM findings f
    LEFT JOIN scan_findings sf ON sf.scan_id = sqlc.arg(scan_id)::uuid AND sf.finding_id = f.id
    WHERE f.tenant_id = sqlc.arg(tenant_id)::uuid
      AND f.scan_target = sqlc.arg(scan_target)::text
      AND f.reporters ?| sqlc.arg(scanners)::text[]
      AND f.status IN ('new', 'open', 'reopened')
), gone AS (
    UPDATE findings f
    SET reporters = c.reps,
        status = CASE WHEN fixed.all_gone THEN 'fixed' ELSE f.status END,
        fixed_at = CASE WHEN fixed.all_gone THEN now() ELSE f.fixed_at END,
        status_changed_at = CASE WHEN fixed.all_gone THEN now() ELSE f.status_changed_at END
    FROM cand c
    CROSS JOIN LATERAL (
        SELECT NOT EXISTS (SELECT 1 FROM jsonb_each(c.reps) e WHERE NOT COALESCE((e.value ->> 'gone')::boolean, false)) AS all_gone
    ) fixed
    WHERE f.id = c.id AND c.reps IS DISTINCT FROM f.reporters
    RETURNING f.id, f.tenant_id, f.severity, f.status, f.reporters
)
INSERT INTO scan_findings (scan_id, finding_id, tenant_id, severity, change, scanners)
SELECT sqlc.arg(scan_id)::uuid, gone.id, gone.tenant_id, gone.severity, 'fixed',
       ARRAY(SELECT k FROM jsonb_object_keys(gone.reporters) k WHERE k = ANY (sqlc.arg(scanners)::text[]) ORDER BY k)
FROM gone
WHERE gone.status = 'fixed'
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
