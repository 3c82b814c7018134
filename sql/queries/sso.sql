-- name: SSODomainList :many
SELECT * FROM sso_domains WHERE tenant_id = sqlc.arg(tenant_id)::uuid ORDER BY domain;

-- name: SSODomainAdd :one
-- Adding a domain twice returns the existing claim (same token).
INSERT INTO sso_domains (tenant_id, domain, token)
VALUES (sqlc.arg(tenant_id)::uuid, sqlc.arg(domain)::text, sqlc.arg(token)::text)
ON CONFLICT (tenant_id, domain) DO UPDATE SET domain = EXCLUDED.domain
RETURNING *;

-- name: SSODomainGet :one
SELECT * FROM sso_domains WHERE tenant_id = sqlc.arg(tenant_id)::uuid AND id = sqlc.arg(id)::uuid;

-- name: SSODomainChecked :one
-- Records one look for the proof; a verified domain stays verified.
UPDATE sso_domains
SET status = CASE WHEN sqlc.arg(verified)::boolean THEN 'verified' ELSE status END,
    verified_at = CASE WHEN sqlc.arg(verified)::boolean AND verified_at IS NULL THEN now() ELSE verified_at END,
    last_error = sqlc.arg(last_error)::text,
    checked_at = now()
WHERE tenant_id = sqlc.arg(tenant_id)::uuid AND id = sqlc.arg(id)::uuid
RETURNING *;

-- name: SSODomainDelete :execrows
DELETE FROM sso_domains WHERE tenant_id = sqlc.arg(tenant_id)::uuid AND id = sqlc.arg(id)::uuid;

-- name: SSOSettingsGet :one
-- The tenant's settings, defaults when never set.
SELECT t.id AS tenant_id, t.tier,
       COALESCE(s.default_role, 'client_readonly')::text AS default_role,
       COALESCE(s.required, false)::boolean AS required,
       COALESCE(s.provider, '')::text AS provider
FROM tenants t LEFT JOIN sso_settings s ON s.tenant_id = t.id
WHERE t.id = sqlc.arg(tenant_id)::uuid;

-- name: SSOSettingsPut :one
INSERT INTO sso_settings (tenant_id, default_role, required, provider)
VALUES (sqlc.arg(tenant_id)::uuid, sqlc.arg(default_role)::text, sqlc.arg(required)::boolean, sqlc.arg(provider)::text)
ON CONFLICT (tenant_id) DO UPDATE SET default_role = EXCLUDED.default_role, required = EXCLUDED.required,
    provider = EXCLUDED.provider, updated_at = now()
RETURNING *;

-- name: AuthSSOTenantOf :many
-- The tenant whose SSO covers an email address (none, or one).
SELECT tenant_id::uuid AS tenant_id, default_role::text AS default_role, required::boolean AS required, provider::text AS provider
FROM secureops_sso_tenant_of(sqlc.arg(email)::text);

-- name: AuthSSOJoin :many
-- Just-in-time membership of an OIDC-signed-in person (none when no tenant covers the address).
SELECT tenant_id::uuid AS tenant_id, role::text AS role, joined::boolean AS joined
FROM secureops_sso_join(sqlc.arg(user_id)::uuid, sqlc.arg(email)::text, sqlc.arg(name)::text, sqlc.arg(provider)::text, sqlc.arg(ip)::text);

-- name: AuthSSOAudit :exec
-- An SSO refusal, audited in the tenant (or, with a NULL tenant, every tenant of the user).
SELECT secureops_sso_audit(sqlc.narg(tenant_id)::uuid, sqlc.narg(user_id)::uuid, sqlc.arg(action)::text, sqlc.arg(details)::jsonb, sqlc.arg(ip)::text);

-- name: AuthSSOTokenLock :one
-- The person's stored refresh token (NULL: none yet), locked for the transaction.
SELECT secureops_sso_token_lock(sqlc.arg(user_id)::uuid, sqlc.arg(provider)::text)::bytea AS sealed;

-- name: AuthSSOTokenPut :exec
SELECT secureops_sso_token_put(sqlc.arg(user_id)::uuid, sqlc.arg(provider)::text, sqlc.arg(sealed)::bytea);
