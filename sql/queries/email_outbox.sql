-- name: EmailOutboxInsert :one
-- The idempotency key makes a retried send a no-op; the existing row is returned.
INSERT INTO email_outbox (tenant_id, idempotency_key, to_address, subject, body_text, body_html)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
RETURNING *;

-- name: EmailOutboxList :many
SELECT * FROM email_outbox
WHERE (sqlc.narg(to_address)::text IS NULL OR to_address = sqlc.narg(to_address)::text)
ORDER BY created_at DESC, id
LIMIT sqlc.arg(lim);

-- name: EmailOutboxGetByKey :one
SELECT * FROM email_outbox WHERE idempotency_key = $1;

-- name: EmailOutboxMarkSent :exec
UPDATE email_outbox SET sent_at = COALESCE(sent_at, now()), provider_id = $2 WHERE idempotency_key = $1;

-- name: EmailOutboxListAll :many
-- Platform admins (admin policy): every tenant's mail, newest first.
SELECT * FROM email_outbox
WHERE (sqlc.narg(to_address)::text IS NULL OR to_address = sqlc.narg(to_address)::text)
  AND (sqlc.narg(tenant_id)::uuid IS NULL OR tenant_id = sqlc.narg(tenant_id)::uuid)
ORDER BY created_at DESC, id
LIMIT sqlc.arg(lim);
