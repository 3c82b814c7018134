-- The dashboard's reads. Each names the tenants explicitly (the caller's
-- scope, which RLS enforces anyway) so the planner can use the tenant-leading
-- indexes; see 00009_usage_dashboard.sql for which index serves which query.

-- name: DashboardTenant :one
SELECT tier, COALESCE(settings->'sla_days', '{}')::jsonb AS sla_days FROM tenants WHERE id = $1;

-- name: DashboardOpenByTarget :many
-- A scope's open findings by target and severity, from the counters kept
-- on findings (finding_open_counts, see 00028_reads_at_scale.sql): about
-- one row per scan and severity instead of one per finding. The severity
-- and SLA summary and the riskiest targets both come from it.
SELECT tenant_id, scan_target, severity,
       sum(n)::bigint AS open,
       COALESCE(sum(n) FILTER (WHERE first_seen_at < CASE severity
           WHEN 'critical' THEN sqlc.arg(critical_due)::timestamptz
           WHEN 'high' THEN sqlc.arg(high_due)::timestamptz
           WHEN 'medium' THEN sqlc.arg(medium_due)::timestamptz
           WHEN 'low' THEN sqlc.arg(low_due)::timestamptz END), 0)::bigint AS overdue,
       min(first_seen_at)::timestamptz AS oldest_seen
FROM finding_open_counts
WHERE tenant_id = ANY (sqlc.arg(tenant_ids)::uuid[])
  AND n > 0
GROUP BY tenant_id, scan_target, severity;

-- name: DashboardTargetIDs :many
-- The registered targets behind a few scan targets.
SELECT tenant_id, value, id FROM targets
WHERE tenant_id = ANY (sqlc.arg(tenant_ids)::uuid[]) AND value = ANY (sqlc.arg(vals)::text[]);

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

-- name: TenantPatchSLADays :one
-- NULL when the tenant is not in the caller's scope.
SELECT secureops_tenant_patch_sla_days(sqlc.arg(tenant_id)::uuid, sqlc.arg(patch)::jsonb)::jsonb AS sla_days;
