-- name: ScanFindingInsertFromStage :execrows
INSERT INTO scan_findings (scan_id, finding_id, tenant_id, severity)
SELECT sqlc.arg(scan_id)::uuid, f.id, f.tenant_id, f.severity
FROM findings f
WHERE f.tenant_id = sqlc.arg(tenant_id)::uuid
  AND f.fingerprint IN (SELECT fingerprint FROM finding_stage)
ON CONFLICT (scan_id, finding_id) DO UPDATE SET severity = EXCLUDED.severity;
