-- name: APIKeyCreate :one
INSERT INTO api_keys (tenant_id, name, prefix, secret_hash, role, scopes, created_by, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: APIKeyList :many
SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id;

-- name: APIKeyRevoke :one
UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
WHERE id = $1 AND tenant_id = $2
RETURNING *;

-- name: APIKeyListLiveByCreator :many
SELECT * FROM api_keys WHERE created_by = $1 AND revoked_at IS NULL ORDER BY created_at, id;
