-- name: UserInsert :exec
-- Users are global identities; a user invited to a second tenant already
-- exists (and may not be visible in this scope), hence DO NOTHING.
INSERT INTO users (id, email, name) VALUES ($1, lower(sqlc.arg(email)::text), $2)
ON CONFLICT DO NOTHING;

-- name: UserGet :one
SELECT * FROM users WHERE id = $1;

-- name: UserSetPlatformAdmin :exec
UPDATE users SET is_platform_admin = $2, updated_at = now() WHERE id = $1;
