-- name: SignupReserve :one
-- '' when reserved, else what is taken: 'slug' or 'email'.
SELECT secureops_signup_reserve(sqlc.arg(token_hash)::bytea, sqlc.arg(tenant_id)::uuid,
    sqlc.arg(slug)::text, sqlc.arg(email)::text, sqlc.arg(workflow_id)::text)::text AS taken;

-- name: SignupWithdraw :exec
SELECT secureops_signup_withdraw(sqlc.arg(token_hash)::bytea);

-- name: SignupLookup :one
SELECT tenant_id::uuid AS tenant_id, workflow_id::text AS workflow_id,
       COALESCE(tenant_status, 'pending')::text AS tenant_status, COALESCE(failure_reason, '')::text AS failure_reason
FROM secureops_signup_lookup(sqlc.arg(token_hash)::bytea);

-- name: SignupsWithoutTenant :many
-- Sign-ups older than the grace period (by the database's clock) whose tenant
-- row was never made, for the reconciler (platform scope): either still
-- starting, or their API process died before starting the onboarding workflow.
SELECT s.token_hash, s.slug, s.workflow_id, s.created_at
FROM signups s
WHERE s.created_at < now() - make_interval(secs => sqlc.arg(grace_seconds)::double precision)
  AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = s.tenant_id)
ORDER BY s.created_at
LIMIT sqlc.arg(lim)::int;
