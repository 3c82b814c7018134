-- name: SLARecomputeTenant :execrows
-- A tenant's SLA days changed: every open finding's deadline is first seen
-- plus the days of its severity (a KEV finding: its own or the critical
-- days, whichever is sooner; LEAST ignores NULL, so a KEV info finding gets
-- the critical days), in 24-hour days as findings.SLADue counts them. The
-- days come from findings.ParseSLADays; 0 means none (info).
UPDATE findings f SET sla_due_at = f.first_seen_at + make_interval(hours => 24 * d.days)
FROM (
    SELECT x.id, CASE WHEN x.kev THEN LEAST(x.own, sqlc.arg(critical)::integer) ELSE x.own END AS days
    FROM (
        SELECT id, kev, CASE severity
            WHEN 'critical' THEN sqlc.arg(critical)::integer
            WHEN 'high' THEN sqlc.arg(high)::integer
            WHEN 'medium' THEN sqlc.arg(medium)::integer
            WHEN 'low' THEN sqlc.arg(low)::integer
        END AS own
        FROM findings
        WHERE tenant_id = sqlc.arg(tenant_id)::uuid AND status IN ('new', 'open', 'reopened')
    ) x
) d
WHERE f.id = d.id AND f.tenant_id = sqlc.arg(tenant_id)::uuid
  AND f.sla_due_at IS DISTINCT FROM f.first_seen_at + make_interval(hours => 24 * d.days);

-- name: SLANextInstant :one
-- The next instant after now at which a tenant's SLA workflow has something
-- to decide: an open finding's deadline coming within due_soon (its
-- due-soon threshold), or its deadline itself; 9999-12-31 when none is
-- ahead. Each half is one probe of findings_tenant_sla_idx.
SELECT COALESCE(LEAST(
    (SELECT min(f.sla_due_at) FROM findings f
     WHERE f.tenant_id = sqlc.arg(tenant_id)::uuid AND f.status IN ('new', 'open', 'reopened')
       AND f.sla_due_at > sqlc.arg(now)::timestamptz),
    (SELECT min(f.sla_due_at) - make_interval(secs => sqlc.arg(due_soon_secs)::double precision) FROM findings f
     WHERE f.tenant_id = sqlc.arg(tenant_id)::uuid AND f.status IN ('new', 'open', 'reopened')
       AND f.sla_due_at > sqlc.arg(now)::timestamptz + make_interval(secs => sqlc.arg(due_soon_secs)::double precision))
), '9999-12-31T00:00:00Z'::timestamptz)::timestamptz AS next_at;

-- name: SLANoticeInsert :many
-- The decision to notify, recorded once per finding and stage: open findings
-- past their deadline at now (overdue) and those due within due_soon of now
-- (due_soon; not for one already overdue). batch_id is one per tenant and
-- batch key (the workflow's wake-up), so a retry decides the same batch.
WITH due AS (
    SELECT f.id, f.sla_due_at,
           CASE WHEN f.sla_due_at <= sqlc.arg(now)::timestamptz THEN 'overdue' ELSE 'due_soon' END AS stage
    FROM findings f
    WHERE f.tenant_id = sqlc.arg(tenant_id)::uuid AND f.status IN ('new', 'open', 'reopened')
      AND f.sla_due_at <= sqlc.arg(now)::timestamptz + make_interval(secs => sqlc.arg(due_soon_secs)::double precision)
), new AS (
    INSERT INTO sla_notices (finding_id, stage, tenant_id, batch_id, due_at)
    SELECT due.id, due.stage, sqlc.arg(tenant_id)::uuid, sqlc.arg(batch_id)::uuid, due.sla_due_at FROM due
    ON CONFLICT (finding_id, stage) DO NOTHING
    RETURNING finding_id, stage
)
SELECT new.stage::text AS stage, f.id, f.title, f.severity, f.cves, f.host, f.port, f.url, f.component,
       f.component_version, f.scan_target, f.kev, f.sla_due_at::timestamptz AS sla_due_at,
       COALESCE(f.priority, 0)::integer AS priority
FROM new JOIN findings f ON f.id = new.finding_id
ORDER BY new.stage DESC, f.sla_due_at, f.priority DESC NULLS LAST, f.id;

-- name: SLANoticePendingBatches :many
-- A tenant's notice batches not emailed yet.
SELECT DISTINCT batch_id FROM sla_notices
WHERE tenant_id = sqlc.arg(tenant_id)::uuid AND emailed_at IS NULL ORDER BY batch_id;

-- name: SLANoticeUnemailed :many
-- A tenant's notices not emailed yet, by batch: overdue first, then by deadline.
SELECT n.batch_id, n.stage, f.id, f.title, f.severity, f.cves, f.host, f.port, f.url, f.scan_target, f.kev,
       n.due_at, COALESCE(f.priority, 0)::integer AS priority
FROM sla_notices n JOIN findings f ON f.id = n.finding_id
WHERE n.tenant_id = sqlc.arg(tenant_id)::uuid AND n.emailed_at IS NULL
ORDER BY n.batch_id, n.stage DESC, n.due_at, f.priority DESC NULLS LAST, f.id
LIMIT 5000;

-- name: SLANoticeMarkEmailed :exec
UPDATE sla_notices SET emailed_at = now()
WHERE tenant_id = sqlc.arg(tenant_id)::uuid AND batch_id = sqlc.arg(batch_id)::uuid AND emailed_at IS NULL;

-- name: SLABreachedDeliveriesPending :many
-- A tenant's finding.sla_breached deliveries still to send: never tried, or
-- left pending for over an hour; a week back at most.
SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
WHERE d.tenant_id = sqlc.arg(tenant_id)::uuid AND d.event_type = 'finding.sla_breached' AND d.status = 'pending' AND w.active
  AND d.created_at > now() - interval '7 days'
  AND (d.attempts = 0 OR d.created_at < now() - interval '1 hour')
ORDER BY d.created_at, d.id;

-- name: SLATenantDays :one
-- A tenant's status and SLA days override (settings.sla_days).
SELECT status, COALESCE(settings->'sla_days', '{}')::jsonb AS sla_days FROM tenants WHERE id = sqlc.arg(tenant_id)::uuid;

-- name: SLATenantsActive :many
-- Active tenants (the housekeeping ensures each has its SLA workflow).
SELECT id FROM tenants WHERE status = 'active' ORDER BY id;
