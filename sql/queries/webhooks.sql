-- name: WebhookCreate :one
INSERT INTO webhooks (tenant_id, url, secret, events, description)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, tenant_id, url, events, description, active, disabled_reason, created_at;

-- name: WebhookList :many
-- The secret is never read back for display.
SELECT id, tenant_id, url, events, description, active, disabled_reason, created_at
FROM webhooks WHERE tenant_id = $1
ORDER BY created_at DESC, id DESC;

-- name: WebhookGet :one
SELECT id, tenant_id, url, events, description, active, disabled_reason, created_at
FROM webhooks WHERE id = $1;

-- name: WebhookCountActive :one
SELECT count(*)::integer FROM webhooks WHERE tenant_id = $1 AND active;

-- name: WebhookDelete :execrows
DELETE FROM webhooks WHERE id = $1;

-- name: WebhookDeactivate :exec
UPDATE webhooks SET active = false, disabled_reason = sqlc.arg(reason)::text
WHERE id = sqlc.arg(id) AND active;

-- name: WebhookDeliveryEnqueue :exec
-- One delivery of the event to every active webhook of the tenant subscribed
-- to its type; an event already enqueued for a webhook stays as it is.
INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, event_type, payload, created_at)
SELECT w.tenant_id, w.id, sqlc.arg(event_id)::text, sqlc.arg(event_type)::text, sqlc.arg(payload)::jsonb,
       sqlc.arg(created_at)::timestamptz
FROM webhooks w
WHERE w.tenant_id = sqlc.arg(tenant_id) AND w.active AND sqlc.arg(event_type)::text = ANY (w.events)
ON CONFLICT (webhook_id, event_id) DO NOTHING;

-- name: WebhookDeliveryCreate :one
-- A single delivery to one webhook (the ping of POST /webhooks/{id}/test).
INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, event_type, payload, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: WebhookDeliveryUnsent :many
-- What is still to send for these events: everything not delivered yet to a
-- webhook that is still active (a failed delivery is tried again when the
-- workflow runs again, e.g. after an operator's reset).
SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
WHERE d.tenant_id = sqlc.arg(tenant_id) AND d.event_id = ANY (sqlc.arg(event_ids)::text[])
  AND d.status <> 'delivered' AND w.active
ORDER BY d.created_at, d.id;

-- name: WebhookDeliveryForSend :one
SELECT d.id, d.tenant_id, d.webhook_id, d.event_id, d.event_type, d.payload, d.status, d.attempts,
       w.url, w.secret, w.active
FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
WHERE d.id = $1;

-- name: WebhookDeliveryRecordAttempt :one
-- Counts the attempt and appends it to the history in one statement. A
-- delivered delivery stays delivered whatever a late attempt reports.
WITH upd AS (
    UPDATE webhook_deliveries wd
    SET attempts = wd.attempts + 1,
        last_status_code = sqlc.narg(status_code)::integer,
        last_error = sqlc.arg(error)::text,
        status = CASE WHEN wd.status = 'delivered' THEN wd.status ELSE sqlc.arg(status)::text END,
        delivered_at = CASE WHEN sqlc.arg(status)::text = 'delivered' THEN COALESCE(wd.delivered_at, now()) ELSE wd.delivered_at END
    WHERE wd.id = sqlc.arg(id)::uuid
    RETURNING wd.id, wd.tenant_id, wd.attempts
)
INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, status_code, error, duration_ms)
SELECT upd.tenant_id, upd.id, upd.attempts, sqlc.narg(status_code)::integer, sqlc.arg(error)::text, sqlc.arg(duration_ms)::integer
FROM upd
RETURNING attempt;

-- name: WebhookDeliveryMarkFailed :execrows
-- The workflow gave up on a delivery; only a pending one changes.
UPDATE webhook_deliveries
SET status = 'failed',
    last_error = CASE WHEN sqlc.arg(reason)::text <> '' THEN sqlc.arg(reason)::text ELSE last_error END
WHERE id = sqlc.arg(id) AND status = 'pending';

-- name: WebhookDeliveryGet :one
SELECT * FROM webhook_deliveries WHERE id = $1;

-- name: WebhookDeliveryList :many
-- Newest first, keyset on (created_at, id).
SELECT * FROM webhook_deliveries
WHERE webhook_id = sqlc.arg(webhook_id)
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(before_created)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(before_created)::timestamptz, sqlc.narg(before_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(lim);

-- name: WebhookAttemptList :many
SELECT * FROM webhook_attempts
WHERE delivery_id = ANY (sqlc.arg(delivery_ids)::uuid[])
ORDER BY delivery_id, attempt;

-- name: WebhookScanNewCriticals :many
-- The critical findings a scan saw for the first time, for finding.critical
-- events (here rather than in scan_findings.sql: only notifications ask).
SELECT f.id, f.title, f.cves, f.host, f.port, f.url, f.scan_target, f.component, f.component_version,
       count(*) OVER ()::integer AS total
FROM scan_findings sf JOIN findings f ON f.id = sf.finding_id
WHERE sf.scan_id = sqlc.arg(scan_id) AND sf.change = 'new' AND sf.severity = 'critical'
ORDER BY f.title, f.id
LIMIT sqlc.arg(lim);
