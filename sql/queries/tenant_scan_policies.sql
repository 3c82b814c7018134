-- name: TenantScanPolicyUpsert :one
INSERT INTO tenant_scan_policies (tenant_id, tier, scanners, max_concurrent_scans, schedule_interval, initial_target)
VALUES ($1, $2, $3, $4, sqlc.arg(schedule_seconds)::bigint * interval '1 second', $5)
ON CONFLICT (tenant_id) DO UPDATE SET tier = EXCLUDED.tier, scanners = EXCLUDED.scanners,
    max_concurrent_scans = EXCLUDED.max_concurrent_scans, schedule_interval = EXCLUDED.schedule_interval,
    initial_target = EXCLUDED.initial_target, updated_at = now()
RETURNING tenant_id, tier, scanners, max_concurrent_scans, initial_target;

-- name: TenantScanPolicyGet :one
SELECT tenant_id, tier, scanners, max_concurrent_scans, EXTRACT(EPOCH FROM schedule_interval)::bigint AS schedule_seconds, initial_target
FROM tenant_scan_policies WHERE tenant_id = $1;

-- name: TenantScanPolicyDelete :exec
DELETE FROM tenant_scan_policies WHERE tenant_id = $1;
