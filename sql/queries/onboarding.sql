-- Tenant queries of the onboarding workflow. Onboarding runs as the platform
-- (admin scope): the tenant it sets up has no members yet.

-- name: OnboardingTenantReserve :one
-- Creates the tenant in status onboarding, or takes over the existing row:
-- a retried step finds its own row, and a failed onboarding started again
-- (reset from the Web UI) moves back to onboarding with a new attempt number.
INSERT INTO tenants (id, slug, name, tier, status, settings)
VALUES ($1, $2, $3, $4, 'onboarding', sqlc.arg(settings)::jsonb)
ON CONFLICT (id) DO UPDATE SET
    status = CASE WHEN tenants.status = 'failed' THEN 'onboarding' ELSE tenants.status END,
    onboarding_attempt = tenants.onboarding_attempt + CASE WHEN tenants.status = 'failed' THEN 1 ELSE 0 END,
    failure_reason = CASE WHEN tenants.status = 'failed' THEN NULL ELSE tenants.failure_reason END,
    updated_at = now()
RETURNING *;

-- name: OnboardingTenantSetStripe :exec
UPDATE tenants SET stripe_customer_id = $2, stripe_subscription_id = $3, updated_at = now() WHERE id = $1;

-- name: OnboardingTenantSetDefectDojo :exec
UPDATE tenants SET defectdojo_product_id = $2, updated_at = now() WHERE id = $1;

-- name: OnboardingTenantActivate :one
-- Only an onboarding tenant becomes active here: a replay after an operator
-- suspended it must not undo the suspension.
UPDATE tenants SET status = CASE WHEN status = 'onboarding' THEN 'active' ELSE status END,
    failure_reason = NULL, updated_at = now()
WHERE id = $1
RETURNING *;

-- name: OnboardingTenantFail :exec
UPDATE tenants SET status = 'failed', failure_reason = $2, updated_at = now()
WHERE id = $1 AND status = 'onboarding';

-- name: OnboardingUserDeleteIfOrphan :exec
-- The owner's row goes with the identity, unless they belong elsewhere too.
DELETE FROM users u WHERE u.id = $1 AND NOT u.is_platform_admin
  AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id);

-- name: OnboardingAPIKeyRevoke :exec
UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1;

-- name: OnboardingUserMembershipCount :one
SELECT count(*)::integer FROM memberships WHERE user_id = $1;
