-- name: TriageRuleList :many
-- A tenant's rules in evaluation order.
SELECT * FROM triage_rules WHERE tenant_id = $1 ORDER BY position, created_at, id;

-- name: TriageRuleGet :one
SELECT * FROM triage_rules WHERE id = $1;

-- name: TriageRuleCount :one
SELECT count(*) FROM triage_rules WHERE tenant_id = $1;

-- name: TriageRuleCreate :one
INSERT INTO triage_rules (tenant_id, position, name, scanner, rule_id, cve, cwe, target, title, title_regex,
    action, decision, severity, created_by, approved_by, from_finding)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING *;

-- name: TriageRuleFind :one
-- A tenant's rule with exactly these conditions and action (an analyst's
-- "always for this rule on this target" asked twice makes one rule).
SELECT * FROM triage_rules
WHERE tenant_id = $1 AND scanner = $2 AND rule_id = $3 AND target = $4 AND cve = '' AND cwe = 0 AND title = ''
    AND action = $5 AND decision = $6
ORDER BY created_at LIMIT 1;

-- name: TriageRuleUpdate :one
UPDATE triage_rules SET position = $2, name = $3, scanner = $4, rule_id = $5, cve = $6, cwe = $7, target = $8,
    title = $9, title_regex = $10, action = $11, decision = $12, severity = $13, approved_by = $14, updated_at = now()
WHERE id = $1
RETURNING *;

-- name: TriageRuleDelete :execrows
DELETE FROM triage_rules WHERE id = $1;

-- name: TriageScanFindings :many
-- A page of the findings a scan saw, in id order after the given id.
SELECT f.* FROM findings f JOIN scan_findings sf ON sf.finding_id = f.id
WHERE sf.scan_id = sqlc.arg(scan_id) AND f.id > sqlc.arg(after_id)
ORDER BY f.id
LIMIT sqlc.arg(lim);

-- name: FindingTriageAdd :execrows
-- Once per scan, finding and source: a retried or reset triage adds nothing.
INSERT INTO finding_triage (tenant_id, finding_id, scan_id, source, model, prompt_version, decision, severity,
    confidence, reasoning, rule_id, status, approved_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (scan_id, finding_id, source) DO NOTHING;

-- name: FindingTriageLatest :many
-- The latest triage row of each finding listed.
SELECT DISTINCT ON (finding_id) * FROM finding_triage
WHERE finding_id = ANY (sqlc.arg(ids)::uuid[])
ORDER BY finding_id, id DESC;

-- name: FindingTriageLatestOf :one
-- A finding's latest triage row.
SELECT * FROM finding_triage WHERE finding_id = $1 ORDER BY id DESC LIMIT 1;

-- name: FindingTriageInScan :one
-- A finding's latest triage row of one scan.
SELECT * FROM finding_triage WHERE scan_id = $1 AND finding_id = $2 ORDER BY id DESC LIMIT 1;

-- name: FindingTriagePending :many
-- The findings of a scan whose latest triage waits for an analyst.
SELECT finding_id FROM (
    SELECT DISTINCT ON (finding_id) finding_id, status FROM finding_triage
    WHERE scan_id = $1 ORDER BY finding_id, id DESC
) latest WHERE status = 'proposed' ORDER BY finding_id;

-- name: FindingSetSeverity :one
-- A tenant rule's severity for a finding (its priority and deadline follow
-- through db.EnrichFindings); returns the severity it had.
UPDATE findings f SET severity = sqlc.arg(severity)
FROM (SELECT o.id, o.severity FROM findings o WHERE o.id = sqlc.arg(id) FOR UPDATE) old
WHERE f.id = old.id AND f.severity <> sqlc.arg(severity)
RETURNING old.severity AS was;
