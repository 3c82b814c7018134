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
