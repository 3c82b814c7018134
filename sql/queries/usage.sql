-- name: UsageEventRecord :one
-- A finished scan's usage, once. No row back when the event exists already
-- (a retry, or a reset of the scan: the stored event stands) or when the
-- scan has not finished.
INSERT INTO usage_events (tenant_id, scan_id, source, scanners, target, started_at, finished_at, duration_ms, status, findings)
SELECT s.tenant_id, s.id, s.source, s.scanners, s.target, s.started_at, s.finished_at,
       CASE WHEN s.started_at IS NULL THEN 0
            ELSE GREATEST(0, floor(extract(epoch FROM s.finished_at - s.started_at) * 1000))::bigint END,
       s.status,
       s.count_critical + s.count_high + s.count_medium + s.count_low + s.count_info
FROM scans s
WHERE s.id = sqlc.arg(scan_id) AND s.status IN ('completed', 'failed', 'cancelled') AND s.finished_at IS NOT NULL
ON CONFLICT (scan_id) DO NOTHING
RETURNING *;

-- name: UsageEventByScan :one
SELECT * FROM usage_events WHERE scan_id = $1;

-- name: UsageEventList :many
-- Newest first, keyset on (created_at, id), within [from, to).
SELECT * FROM usage_events
WHERE tenant_id = ANY (sqlc.arg(tenant_ids)::uuid[])
  AND created_at >= sqlc.arg(from_time)::timestamptz AND created_at < sqlc.arg(to_time)::timestamptz
  AND (sqlc.narg(before_created)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(before_created)::timestamptz, sqlc.narg(before_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(lim);

-- name: UsageSummary :one
-- Scans consumed in [from, to): what billing meters.
SELECT count(*)::bigint AS scans,
       COALESCE(sum(duration_ms), 0)::bigint AS duration_ms,
       count(*) FILTER (WHERE source = 'scan')::bigint AS scan_source,
       count(*) FILTER (WHERE source = 'import')::bigint AS import_source
FROM usage_events
WHERE tenant_id = ANY (sqlc.arg(tenant_ids)::uuid[])
  AND created_at >= sqlc.arg(from_time)::timestamptz AND created_at < sqlc.arg(to_time)::timestamptz;
