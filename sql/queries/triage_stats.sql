-- name: TriageStatsDecisions :many
-- A tenant's triage decisions counted per source, tenant rule (NULL: the
-- built-in rules, or a model) and decision.
SELECT ft.source, ft.rule_id, coalesce(tr.name, '')::text AS rule_name, ft.decision, ft.status,
    count(*)::bigint AS n
FROM finding_triage ft LEFT JOIN triage_rules tr ON tr.id = ft.rule_id
WHERE ft.tenant_id = $1
GROUP BY ft.source, ft.rule_id, tr.name, ft.decision, ft.status
ORDER BY ft.source, ft.rule_id NULLS FIRST, ft.decision, ft.status;

-- name: TriageStatsAgreement :many
-- For every rules' or model's decision on a finding an analyst then judged
-- in the same scan: how often it matched the analyst. An analyst approves or
-- rejects the proposed decision (the analyst row's decision): a decision
-- agrees when it is the approved one, or differs from the rejected one.
SELECT d.source, d.rule_id, coalesce(tr.name, '')::text AS rule_name,
    count(*)::bigint AS reviewed,
    count(*) FILTER (WHERE (v.status = 'approved') = (d.decision = v.decision))::bigint AS agreed
FROM finding_triage v
JOIN finding_triage d ON d.scan_id = v.scan_id AND d.finding_id = v.finding_id AND d.source IN ('rules', 'llm')
LEFT JOIN triage_rules tr ON tr.id = d.rule_id
WHERE v.tenant_id = $1 AND v.source = 'analyst' AND v.status IN ('approved', 'rejected')
GROUP BY d.source, d.rule_id, tr.name
ORDER BY d.source, d.rule_id NULLS FIRST;

-- name: TriageAnalystExamples :many
-- A tenant's latest analyst verdicts on findings of the given scanner rules
-- or sharing a CWE, newest first: precedents shown to a model.
SELECT f.rule_id, f.cwes, f.title, ft.decision, ft.status, ft.reasoning
FROM finding_triage ft JOIN findings f ON f.id = ft.finding_id
WHERE ft.tenant_id = sqlc.arg(tenant_id) AND ft.source = 'analyst' AND ft.status IN ('approved', 'rejected')
    AND ((f.rule_id <> '' AND f.rule_id = ANY (sqlc.arg(rule_ids)::text[])) OR f.cwes && sqlc.arg(cwes)::integer[])
ORDER BY ft.id DESC
LIMIT sqlc.arg(lim);

-- name: TriageFeedbackPut :one
-- A person's verdict on a triage answer; a second one replaces the first.
INSERT INTO triage_feedback (tenant_id, triage_id, finding_id, actor, useful, comment)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (triage_id, actor) DO UPDATE SET useful = EXCLUDED.useful, comment = EXCLUDED.comment, updated_at = now()
RETURNING *;

-- name: FindingTriageLatestAnswer :one
-- A finding's latest answer of the rules or a model (what feedback judges).
SELECT * FROM finding_triage WHERE finding_id = $1 AND source IN ('rules', 'llm') ORDER BY id DESC LIMIT 1;

-- name: TriageStatsFeedback :many
-- Feedback on a tenant's triage answers per source and tenant rule.
SELECT ft.source, ft.rule_id, coalesce(tr.name, '')::text AS rule_name,
    count(*) FILTER (WHERE fb.useful)::bigint AS useful,
    count(*) FILTER (WHERE NOT fb.useful)::bigint AS not_useful
FROM triage_feedback fb
JOIN finding_triage ft ON ft.id = fb.triage_id
LEFT JOIN triage_rules tr ON tr.id = ft.rule_id
WHERE fb.tenant_id = $1
GROUP BY ft.source, ft.rule_id, tr.name
ORDER BY ft.source, ft.rule_id NULLS FIRST;

-- name: TriageStatsReportFeedback :many
-- Feedback on a tenant's reports per report kind and prose source.
SELECT r.kind, r.prose_source,
    count(*) FILTER (WHERE fb.useful)::bigint AS useful,
    count(*) FILTER (WHERE NOT fb.useful)::bigint AS not_useful
FROM report_feedback fb JOIN reports r ON r.id = fb.report_id
WHERE fb.tenant_id = $1
GROUP BY r.kind, r.prose_source
ORDER BY r.kind, r.prose_source;

-- name: TriageFeedbackComments :many
-- The latest comments on a tenant's triage answers and reports.
SELECT 'triage'::text AS subject, fb.finding_id::text AS subject_id, ft.source, fb.useful, fb.comment, fb.updated_at AS at
FROM triage_feedback fb JOIN finding_triage ft ON ft.id = fb.triage_id
WHERE fb.tenant_id = sqlc.arg(tenant_id) AND fb.comment <> ''
UNION ALL
SELECT 'report'::text, rf.report_id::text, r.prose_source, rf.useful, rf.comment, rf.created_at
FROM report_feedback rf JOIN reports r ON r.id = rf.report_id
WHERE rf.tenant_id = sqlc.arg(tenant_id) AND rf.comment <> ''
ORDER BY at DESC
LIMIT sqlc.arg(lim);
