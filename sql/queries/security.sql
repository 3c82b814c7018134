-- name: AuthTenantRequiresMFA :one
-- Whether the tenant or a tenant above it requires a second factor.
SELECT secureops_tenant_chain_requires_mfa(sqlc.arg(id)::uuid)::boolean AS required;

-- name: SecurityRequireMFA :one
-- The tenant's own setting (false when never set or not in scope).
SELECT COALESCE(settings->'require_mfa' = 'true'::jsonb, false)::boolean AS require_mfa
FROM tenants WHERE id = sqlc.arg(tenant_id)::uuid;

-- name: SecuritySetRequireMFA :one
-- NULL when the tenant is not in the caller's scope.
SELECT to_jsonb(secureops_tenant_set_require_mfa(sqlc.arg(tenant_id)::uuid, sqlc.arg(required)::boolean))::jsonb AS require_mfa;

-- name: SecurityMFAChanged :one
-- Records the person's second factors as Kratos has them now; returns what
-- was added and removed (each audited in the person's tenants).
SELECT added::text[] AS added, removed::text[] AS removed
FROM secureops_user_mfa_changed(sqlc.arg(user_id)::uuid, sqlc.arg(methods)::text[], sqlc.arg(ip)::text);
