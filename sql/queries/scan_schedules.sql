-- name: ScheduleUpsert :one
INSERT INTO scan_schedules (tenant_id, target_id, scanners, cron, interval_seconds, timezone, description, paused)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (tenant_id, target_id, scanners, cron, interval_seconds, timezone)
DO UPDATE SET description = CASE WHEN EXCLUDED.description <> '' THEN EXCLUDED.description ELSE scan_schedules.description END, updated_at = now()
RETURNING *, (xmax = 0) AS created;

-- name: ScheduleGet :one
SELECT * FROM scan_schedules WHERE id = $1;

-- name: ScheduleList :many
SELECT * FROM scan_schedules
WHERE (sqlc.narg(target_id)::uuid IS NULL OR target_id = sqlc.narg(target_id)::uuid)
  AND (sqlc.narg(before_created)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(before_created)::timestamptz, sqlc.narg(before_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(lim);

-- name: ScheduleUpdate :one
UPDATE scan_schedules
SET scanners = $2, cron = $3, interval_seconds = $4, timezone = $5, description = $6, updated_at = now()
WHERE id = $1
RETURNING *;

-- name: ScheduleSetPaused :one
UPDATE scan_schedules SET paused = $2, updated_at = now() WHERE id = $1 RETURNING *;

-- name: ScheduleDelete :execrows
DELETE FROM scan_schedules WHERE id = $1;

-- name: ScheduleIDsByTarget :many
SELECT id FROM scan_schedules WHERE target_id = $1;

-- name: SchedulesOfTenantTree :many
-- Every schedule of the tenant and its sub-tenants, and whether the tenant
-- (or an ancestor) is suspended, by an operator or for want of payment
-- (tenant_billing): such schedules must be paused.
SELECT s.id, s.paused,
       (secureops_tenant_chain_blocked(s.tenant_id) OR secureops_tenant_billing_hold(s.tenant_id) IS NOT NULL)::boolean AS blocked
FROM scan_schedules s
WHERE s.tenant_id = ANY (secureops_tenant_subtree(sqlc.arg(tenant_id)::uuid))
ORDER BY s.id;

-- name: ScanCreateScheduled :one
-- The scan of one scheduled run; the id is derived from the run, so a
-- retried activity finds the row it created.
INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, target_id, source, complete, schedule_id)
VALUES ($1, $2, $3, $4, $5, $6, 'scan', true, $7)
ON CONFLICT (id) DO UPDATE SET id = EXCLUDED.id
RETURNING *;
