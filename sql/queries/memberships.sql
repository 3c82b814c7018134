-- name: MembershipUpsert :one
INSERT INTO memberships (user_id, tenant_id, role, team_id)
VALUES ($1, $2, $3, $4)
ON CONFLICT (user_id, tenant_id) DO UPDATE SET role = EXCLUDED.role, team_id = EXCLUDED.team_id
RETURNING *;

-- name: MembershipGet :one
SELECT * FROM memberships WHERE user_id = $1 AND tenant_id = $2;

-- name: MembershipListByTenant :many
SELECT m.id, m.user_id, m.tenant_id, m.role, m.team_id, m.created_at, u.email, u.name
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.tenant_id = $1
ORDER BY u.email;

-- name: MembershipUpdate :one
UPDATE memberships SET role = $3, team_id = $4 WHERE user_id = $1 AND tenant_id = $2 RETURNING *;

-- name: MembershipDelete :execrows
DELETE FROM memberships WHERE user_id = $1 AND tenant_id = $2;

-- name: MembershipCountOwners :one
SELECT count(*)::integer FROM memberships WHERE tenant_id = $1 AND role = 'client_owner';
