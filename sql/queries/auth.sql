-- Authentication runs before a tenant scope exists: these call the narrow
-- SECURITY DEFINER functions from the identity migration, never the tables.
-- The casts tell sqlc the column types of the table functions; NULLs are
-- folded into sentinels because sqlc takes cast columns as NOT NULL.

-- name: AuthAPIKey :one
SELECT k.id::uuid AS id, k.tenant_id::uuid AS tenant_id, k.secret_hash::bytea AS secret_hash,
       k.role::text AS role, k.scopes::text[] AS scopes, COALESCE(k.expires_at, '9999-12-31T00:00:00Z')::timestamptz AS expires_at,
       (k.revoked_at IS NOT NULL)::boolean AS revoked, k.tenant_status::text AS tenant_status
FROM secureops_auth_api_key(sqlc.arg(prefix)::text) k;

-- name: AuthTouchAPIKey :exec
SELECT secureops_auth_touch_api_key(sqlc.arg(id)::uuid);

-- name: AuthUser :many
SELECT COALESCE(a.tenant_id, '00000000-0000-0000-0000-000000000000')::uuid AS tenant_id,
       COALESCE(a.role, '')::text AS role,
       COALESCE(a.tenant_status, '')::text AS tenant_status, a.is_platform_admin::boolean AS is_platform_admin
FROM secureops_auth_user(sqlc.arg(user_id)::uuid) a;

-- name: AuthImpersonation :one
SELECT i.id::uuid AS id, i.admin_user_id::uuid AS admin_user_id, i.user_id::uuid AS user_id,
       i.tenant_id::uuid AS tenant_id, i.expires_at::timestamptz AS expires_at,
       (i.ended_at IS NOT NULL)::boolean AS ended
FROM secureops_auth_impersonation(sqlc.arg(token_hash)::bytea) i;

-- name: AuthTenantSubtree :one
SELECT secureops_tenant_subtree(sqlc.arg(root)::uuid)::uuid[] AS ids;

-- name: AuthTenantAncestors :one
SELECT secureops_tenant_ancestors(sqlc.arg(id)::uuid)::uuid[] AS ids;

-- name: AuthTenantBlocked :one
SELECT secureops_tenant_chain_blocked(sqlc.arg(id)::uuid)::boolean AS blocked;
