-- name: TenantGet :one
SELECT * FROM tenants WHERE id = $1;

-- name: TenantGetBySlug :one
SELECT * FROM tenants WHERE slug = $1;
