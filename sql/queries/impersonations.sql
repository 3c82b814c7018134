-- name: ImpersonationCreate :one
INSERT INTO impersonations (tenant_id, admin_user_id, user_id, reason, token_hash, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;
