-- name: TenantGet :one
SELECT * FROM tenants WHERE id = $1;

-- name: TenantGetBySlug :one
SELECT * FROM tenants WHERE slug = $1;

-- name: TenantCreate :one
INSERT INTO tenants (id, parent_id, slug, name, tier, status)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: TenantListChildren :many
SELECT * FROM tenants WHERE parent_id = $1 ORDER BY name, id;

-- name: TenantTree :many
-- The subtree below (and including) a tenant, depth-first by name.
WITH RECURSIVE tree AS (
    SELECT t.id, t.parent_id, t.slug, t.name, t.tier, t.status, t.created_at, 0 AS depth,
           ARRAY[t.name::text] AS path
    FROM tenants t WHERE t.id = sqlc.arg(root)::uuid
    UNION ALL
    SELECT c.id, c.parent_id, c.slug, c.name, c.tier, c.status, c.created_at, tree.depth + 1,
           tree.path || c.name::text
    FROM tenants c JOIN tree ON c.parent_id = tree.id
    WHERE tree.depth < 64
)
SELECT id, parent_id, slug, name, tier, status, created_at, depth::integer AS depth FROM tree ORDER BY path;

-- name: TenantListAll :many
-- Platform admins only (the admin policy); keyset on id.
SELECT * FROM tenants
WHERE (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(after_id)::uuid IS NULL OR id > sqlc.narg(after_id)::uuid)
ORDER BY id
LIMIT sqlc.arg(lim);

-- name: TenantSetStatus :one
UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1 RETURNING *;

-- name: TenantChainBlocked :one
-- Whether the tenant or an ancestor is suspended, cancelled or failed: its
-- scheduled scans must not run.
SELECT secureops_tenant_chain_blocked(sqlc.arg(tenant_id)::uuid)::boolean AS blocked;

-- name: TenantLineageSlugs :many
-- The tenant's slug and its ancestors', nearest first: ranges opened to a
-- tenant (SCAN_ALLOWED_CIDRS cidr@slug) are open to its sub-tenants too.
WITH RECURSIVE up AS (
    SELECT t.id, t.parent_id, t.slug, 0 AS depth FROM tenants t WHERE t.id = sqlc.arg(tenant_id)
    UNION ALL
    SELECT p.id, p.parent_id, p.slug, up.depth + 1 FROM tenants p JOIN up ON p.id = up.parent_id WHERE up.depth < 32
)
SELECT slug FROM up ORDER BY depth;

-- name: TenantRoot :one
-- The root of the tenant's tree (the paying tenant) and its tier.
SELECT r.id::uuid AS id, r.tier::text AS tier FROM secureops_tenant_root(sqlc.arg(tenant_id)::uuid) AS r;
