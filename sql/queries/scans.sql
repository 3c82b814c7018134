-- name: ScanCreate :one
INSERT INTO scans (id, tenant_id, target, scanners, workflow_id)
VALUES ($1, $2, $3, $4, $5)
RETURNING *;

-- name: ScanGet :one
SELECT * FROM scans WHERE id = $1;

-- name: ScanMarkRunning :exec
-- Only a queued scan starts; a retried activity after completion changes nothing.
UPDATE scans
SET status = 'running', started_at = COALESCE(started_at, now()), progress_message = 'started'
WHERE id = $1 AND status IN ('queued', 'running');

-- name: ScanSetProgress :exec
UPDATE scans
SET progress = GREATEST(progress, sqlc.arg(progress)::integer), progress_message = sqlc.arg(message)::text
WHERE id = sqlc.arg(id) AND status = 'running';

-- name: ScanFinish :exec
-- Terminal states are final: a late retry cannot turn a cancelled scan into a completed one.
UPDATE scans
SET status = sqlc.arg(status)::text,
    error = sqlc.narg(error),
    progress = CASE WHEN sqlc.arg(status)::text = 'completed' THEN 100 ELSE progress END,
    progress_message = sqlc.arg(status)::text,
    finished_at = now()
WHERE id = sqlc.arg(id) AND status IN ('queued', 'running');

-- name: ScanCountsRefresh :one
UPDATE scans s
SET count_critical = c.critical, count_high = c.high, count_medium = c.medium,
    count_low = c.low, count_info = c.info
FROM (
    SELECT count(*) FILTER (WHERE severity = 'critical')::integer AS critical,
           count(*) FILTER (WHERE severity = 'high')::integer     AS high,
           count(*) FILTER (WHERE severity = 'medium')::integer   AS medium,
           count(*) FILTER (WHERE severity = 'low')::integer      AS low,
           count(*) FILTER (WHERE severity = 'info')::integer     AS info
    FROM scan_findings WHERE scan_id = $1
) c
WHERE s.id = $1
RETURNING s.count_critical, s.count_high, s.count_medium, s.count_low, s.count_info;
