-- name: AuditInsert :exec
INSERT INTO audit_log (tenant_id, actor_user_id, actor_api_key_id, effective_user_id, impersonation_id,
                       action, target_type, target_id, details, request_id, ip)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);

-- name: AuditList :many
-- Newest first; RLS limits rows to the caller's scope, tenant narrows further.
SELECT * FROM audit_log
WHERE (sqlc.narg(tenant_id)::uuid IS NULL OR tenant_id = sqlc.narg(tenant_id)::uuid)
  AND (sqlc.narg(action)::text IS NULL OR action = sqlc.narg(action)::text)
  AND (sqlc.narg(actor)::uuid IS NULL OR actor_user_id = sqlc.narg(actor)::uuid OR effective_user_id = sqlc.narg(actor)::uuid)
  AND (sqlc.narg(since)::timestamptz IS NULL OR created_at >= sqlc.narg(since)::timestamptz)
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
ORDER BY id DESC
LIMIT sqlc.arg(lim);
