-- name: StripeEventInsert :one
-- A webhook event, once: no row back when its id was received before.
INSERT INTO stripe_events (id, tenant_id, type, object_id, created, payload)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO NOTHING
RETURNING id;

-- name: StripeEventGet :one
SELECT * FROM stripe_events WHERE id = $1;

-- name: BillingTenantByCustomer :one
-- The tenant a Stripe customer belongs to.
SELECT id FROM tenants WHERE stripe_customer_id = $1;

-- name: BillingAccount :one
-- What the billing workflow needs to know about its tenant.
SELECT t.id, t.slug, t.name, t.tier, t.status, t.stripe_customer_id, t.stripe_subscription_id
FROM tenants t WHERE t.id = $1;

-- name: BillingStateUpsert :exec
-- The workflow's state, unless a newer one was written already (a retried
-- write of an older state is late, not news).
INSERT INTO tenant_billing (tenant_id, status, plan, state, version)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id) DO UPDATE SET status = EXCLUDED.status, plan = EXCLUDED.plan, state = EXCLUDED.state,
    version = EXCLUDED.version, updated_at = now()
WHERE tenant_billing.version <= EXCLUDED.version;

-- name: BillingStateGet :one
SELECT * FROM tenant_billing WHERE tenant_id = $1;

-- name: BillingHold :one
-- 'suspended' or 'cancelled' when the tenant (or an ancestor) may not start
-- scans for want of payment; '' when it may.
SELECT COALESCE(secureops_tenant_billing_hold(sqlc.arg(tenant_id)::uuid), '')::text AS hold;

-- name: BillingTierSet :exec
-- The plan Stripe confirmed becomes the tenant's tier: the scan gate's
-- concurrency and the policy's scanners follow it.
UPDATE tenants SET tier = $2, updated_at = now() WHERE id = $1 AND tier <> $2;

-- name: BillingPolicyTierSet :exec
UPDATE tenant_scan_policies SET tier = $2, scanners = $3, max_concurrent_scans = $4, updated_at = now()
WHERE tenant_id = $1;

-- name: BillingUnmetered :many
-- Completed scans of the tenant not yet sent to Stripe as meter events,
-- oldest first.
SELECT u.scan_id, u.finished_at
FROM usage_events u
WHERE u.tenant_id = $1 AND u.status = 'completed'
  AND NOT EXISTS (SELECT 1 FROM billing_meter_events m WHERE m.scan_id = u.scan_id)
ORDER BY u.finished_at, u.scan_id
LIMIT sqlc.arg(lim);

-- name: BillingMeterEventRecord :exec
INSERT INTO billing_meter_events (scan_id, tenant_id, identifier)
VALUES ($1, $2, $3)
ON CONFLICT (scan_id) DO NOTHING;

-- name: BillingUsageCount :one
-- Completed scans in [from, to), and how many of them reached Stripe.
SELECT count(*)::bigint AS completed,
       count(m.scan_id)::bigint AS metered
FROM usage_events u LEFT JOIN billing_meter_events m ON m.scan_id = u.scan_id
WHERE u.tenant_id = $1 AND u.status = 'completed'
  AND u.finished_at >= sqlc.arg(from_time)::timestamptz AND u.finished_at < sqlc.arg(to_time)::timestamptz;

-- name: BillingOwners :many
-- Who billing emails go to: the tenant's owners.
SELECT m.user_id, u.email, u.name
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.tenant_id = $1 AND m.role = 'client_owner' AND u.email <> ''
ORDER BY u.email;

-- name: BillingDeleteTenant :execrows
-- A cancelled tenant past its retention, with everything it owns (every
-- tenant table cascades); not one with sub-tenants.
DELETE FROM tenants t
WHERE t.id = $1 AND NOT EXISTS (SELECT 1 FROM tenants c WHERE c.parent_id = t.id);
