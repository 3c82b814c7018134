-- name: InvitationCreate :one
INSERT INTO invitations (tenant_id, user_id, email, role, team_id, token_hash, invited_by, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: InvitationGetByTokenForUpdate :one
SELECT * FROM invitations WHERE token_hash = $1 FOR UPDATE;

-- name: InvitationMarkAccepted :one
UPDATE invitations SET accepted_at = now() WHERE id = $1 AND accepted_at IS NULL RETURNING *;
