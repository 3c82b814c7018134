-- name: LLMTriageOptIn :one
-- Whether the tenant agreed to send its findings to an outside model (false
-- when it never said, or is not in the caller's scope: no row).
SELECT COALESCE(settings->'llm_opt_in' = 'true'::jsonb, false)::boolean AS llm_opt_in
FROM tenants WHERE id = sqlc.arg(tenant_id)::uuid;

-- name: LLMTriageSetOptIn :one
-- NULL when the tenant is not in the caller's scope.
SELECT to_jsonb(secureops_tenant_set_llm_opt_in(sqlc.arg(tenant_id)::uuid, sqlc.arg(opt_in)::boolean))::jsonb AS llm_opt_in;

-- name: LLMTriageCacheGet :many
SELECT fingerprint, decision, confidence, reasoning, remediation
FROM llm_triage_cache
WHERE tenant_id = sqlc.arg(tenant_id)::uuid AND prompt_version = sqlc.arg(prompt_version)
  AND model = sqlc.arg(model) AND fingerprint = ANY (sqlc.arg(fingerprints)::text[]);

-- name: LLMTriageCachePut :exec
INSERT INTO llm_triage_cache (tenant_id, fingerprint, prompt_version, model, decision, confidence, reasoning, remediation)
VALUES (sqlc.arg(tenant_id)::uuid, sqlc.arg(fingerprint), sqlc.arg(prompt_version), sqlc.arg(model),
        sqlc.arg(decision), sqlc.arg(confidence), sqlc.arg(reasoning), sqlc.arg(remediation))
ON CONFLICT (tenant_id, fingerprint, prompt_version, model) DO UPDATE
SET decision = EXCLUDED.decision, confidence = EXCLUDED.confidence, reasoning = EXCLUDED.reasoning,
    remediation = EXCLUDED.remediation, created_at = now();
