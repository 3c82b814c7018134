-- The dashboard's reads. Each names the tenants explicitly (the caller's
-- scope, which RLS enforces anyway) so the planner can use the tenant-leading
-- indexes; see 00009_usage_dashboard.sql for which index serves which query.

-- name: DashboardTenant :one
SELECT tier, COALESCE(settings->'sla_days', '{}')::jsonb AS sla_days FROM tenants WHERE id = $1;

-- name: DashboardOpenFindings :many
-- Open findings by severity and how many are past their SLA: *_due is now
-- minus that severity's SLA (info has none). The oldest open finding of a
-- severity with any overdue is its oldest overdue one.
SELECT severity,
       count(*)::bigint AS open,
       count(*) FILTER (WHERE first_seen_at < CASE severity
           WHEN 'critical' THEN sqlc.arg(critical_due)::timestamptz
           WHEN 'high' THEN sqlc.arg(high_due)::timestamptz
           WHEN 'medium' THEN sqlc.arg(medium_due)::timestamptz
           WHEN 'low' THEN sqlc.arg(low_due)::timestamptz END)::bigint AS overdue,
       COALESCE(extract(epoch FROM sqlc.arg(as_of)::timestamptz - min(first_seen_at)), 0)::float8 AS oldest_age_seconds
FROM findings
WHERE tenant_id = ANY (sqlc.arg(tenant_ids)::uuid[])
  AND status IN ('new', 'open', 'reopened')
GROUP BY severity;

-- name: DashboardFixed :many
-- Findings fixed in [from, to) by UTC day and severity, with how long they
-- were open in total: the trend's "fixed" and the mean time to remediate.
SELECT to_char(fixed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')::text AS day,
       severity,
       count(*)::bigint AS fixed,
       COALESCE(sum(GREATEST(0, extract(epoch FROM fixed_at - first_seen_at))), 0)::float8 AS open_seconds
FROM findings
WHERE tenant_id = ANY (sqlc.arg(tenant_ids)::uuid[])
  AND fixed_at IS NOT NULL
  AND fixed_at >= sqlc.arg(from_time)::timestamptz AND fixed_at < sqlc.arg(to_time)::timestamptz
GROUP BY 1, 2;

-- name: DashboardScanDiffs :many
-- Findings new and reopened per UTC day, from what each scan finished in
-- [from, to) changed: each finding is "new" in exactly one scan.
SELECT to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')::text AS day,
       COALESCE(sum(diff_new), 0)::bigint AS new,
       COALESCE(sum(diff_reopened), 0)::bigint AS reopened
FROM scans
WHERE tenant_id = ANY (sqlc.arg(tenant_ids)::uuid[])
  AND finished_at >= sqlc.arg(from_time)::timestamptz AND finished_at < sqlc.arg(to_time)::timestamptz
GROUP BY 1;

-- name: DashboardScans :many
-- Scans requested in [from, to).
SELECT status, source, count(*)::bigint AS scans
FROM scans
WHERE tenant_id = ANY (sqlc.arg(tenant_ids)::uuid[])
  AND created_at >= sqlc.arg(from_time)::timestamptz AND created_at < sqlc.arg(to_time)::timestamptz
GROUP BY status, source;

-- name: DashboardActiveScans :one
-- One tenant's unfinished scans: what its tier's concurrency limit counts.
SELECT count(*) FILTER (WHERE status = 'running')::bigint AS running,
       count(*) FILTER (WHERE status = 'queued')::bigint AS queued
FROM scans
WHERE tenant_id = sqlc.arg(tenant_id)::uuid AND finished_at IS NULL AND status IN ('queued', 'running');

-- name: DashboardTopTargets :many
-- Scan targets by weighted open findings (critical 10, high 5, medium 2,
-- low 1), with the registered target when there is one.
SELECT r.tenant_id, r.scan_target, r.risk, r.critical, r.high, r.medium, r.low, r.info, t.id AS target_id
FROM (
    SELECT f.tenant_id, f.scan_target,
           (10 * count(*) FILTER (WHERE f.severity = 'critical') + 5 * count(*) FILTER (WHERE f.severity = 'high')
            + 2 * count(*) FILTER (WHERE f.severity = 'medium') + count(*) FILTER (WHERE f.severity = 'low'))::bigint AS risk,
           count(*) FILTER (WHERE f.severity = 'critical')::bigint AS critical,
           count(*) FILTER (WHERE f.severity = 'high')::bigint AS high,
           count(*) FILTER (WHERE f.severity = 'medium')::bigint AS medium,
           count(*) FILTER (WHERE f.severity = 'low')::bigint AS low,
           count(*) FILTER (WHERE f.severity = 'info')::bigint AS info
    FROM findings f
    WHERE f.tenant_id = ANY (sqlc.arg(tenant_ids)::uuid[])
      AND f.status IN ('new', 'open', 'reopened')
    GROUP BY f.tenant_id, f.scan_target
) r
LEFT JOIN targets t ON t.tenant_id = r.tenant_id AND t.value = r.scan_target
WHERE r.risk > 0
ORDER BY r.risk DESC, r.critical DESC, r.high DESC, r.scan_target, r.tenant_id
LIMIT sqlc.arg(lim);

-- name: TenantPatchSLADays :one
-- NULL when the tenant is not in the caller's scope.
SELECT secureops_tenant_patch_sla_days(sqlc.arg(tenant_id)::uuid, sqlc.arg(patch)::jsonb)::jsonb AS sla_days;
