-- name: FindingStageCopy :copyfrom
INSERT INTO finding_stage (
    fingerprint, title, severity, cves, cwes, cvss_score, cvss_vector, component,
    component_version, host, port, protocol, url, target, scanner, rule_id, description,
    remediation, refs, evidence
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20
);

-- name: FindingUpsertFromStage :execrows
-- One statement for the whole batch: upsert the findings and record their
-- occurrence in this scan from the upsert's RETURNING (looking the findings
-- up again costs a join per row under RLS, ≈ 10× the upsert itself). DISTINCT ON keeps the worst severity when
-- a report repeats a fingerprint (ON CONFLICT cannot touch a row twice).
-- Status: a fixed finding seen again is reopened; a new one seen by a later
-- scan becomes open; a retry of the same scan changes nothing.
WITH up AS (
INSERT INTO findings (
    tenant_id, fingerprint, title, severity, cves, cwes, cvss_score, cvss_vector,
    component, component_version, host, port, protocol, url, target, scanner, rule_id,
    description, remediation, refs, evidence, last_scan_id
)
SELECT DISTINCT ON (s.fingerprint)
    sqlc.arg(tenant_id)::uuid, s.fingerprint, s.title, s.severity, s.cves, s.cwes, s.cvss_score,
    s.cvss_vector, s.component, s.component_version, s.host, s.port, s.protocol, s.url,
    s.target, s.scanner, s.rule_id, s.description, s.remediation, s.refs, s.evidence, sqlc.arg(scan_id)::uuid
FROM finding_stage s
ORDER BY s.fingerprint,
         CASE s.severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END DESC
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
    last_seen_at = now(),
    last_scan_id = EXCLUDED.last_scan_id,
    status = CASE
        WHEN findings.last_scan_id IS NOT DISTINCT FROM EXCLUDED.last_scan_id THEN findings.status
        WHEN findings.status = 'fixed' THEN 'reopened'
        WHEN findings.status = 'new' THEN 'open'
        ELSE findings.status
    END
    RETURNING id, tenant_id, severity
)
INSERT INTO scan_findings (scan_id, finding_id, tenant_id, severity)
SELECT sqlc.arg(scan_id)::uuid, up.id, up.tenant_id, up.severity FROM up
ON CONFLICT (scan_id, finding_id) DO UPDATE SET severity = EXCLUDED.severity;

-- name: FindingListByScan :many
-- Keyset pagination on id. The severity filter uses the severity this scan
-- recorded, the same one its counts are made of.
SELECT f.*
FROM scan_findings sf
JOIN findings f ON f.id = sf.finding_id
WHERE sf.scan_id = sqlc.arg(scan_id)
  AND (sqlc.narg(severity)::text IS NULL OR sf.severity = sqlc.narg(severity)::text)
  AND (sqlc.narg(after_id)::uuid IS NULL OR f.id > sqlc.narg(after_id)::uuid)
ORDER BY f.id
LIMIT sqlc.arg(lim);
