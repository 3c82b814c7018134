-- name: TeamCreate :one
INSERT INTO teams (tenant_id, name) VALUES ($1, $2) RETURNING *;

-- name: TeamGet :one
SELECT * FROM teams WHERE id = $1 AND tenant_id = $2;

-- name: TeamList :many
SELECT * FROM teams WHERE tenant_id = $1 ORDER BY name;

-- name: TeamRename :one
UPDATE teams SET name = $3 WHERE id = $1 AND tenant_id = $2 RETURNING *;

-- name: TeamDelete :execrows
DELETE FROM teams WHERE id = $1 AND tenant_id = $2;
