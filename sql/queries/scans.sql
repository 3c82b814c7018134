-- name: ScanCreate :one
INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, target_id, source, complete)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: ScanList :many
-- Newest first, keyset on (created_at, id).
SELECT * FROM scans
WHERE (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(target_id)::uuid IS NULL OR target_id = sqlc.narg(target_id)::uuid)
  AND (sqlc.narg(before_created)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(before_created)::timestamptz, sqlc.narg(before_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(lim);

-- name: ScanGet :one
SELECT * FROM scans WHERE id = $1;

-- name: ScanMarkRunning :one
-- A queued scan starts; a retry of the same run changes nothing; a new run
-- (a reset from the Web UI) takes the scan over, whatever its state.
UPDATE scans
SET status = 'running',
    started_at = CASE WHEN run_id = sqlc.arg(run_id)::text THEN COALESCE(started_at, now()) ELSE now() END,
    progress = CASE WHEN run_id = sqlc.arg(run_id)::text THEN progress ELSE 0 END,
    progress_message = 'started', error = NULL, finished_at = NULL,
    run_id = sqlc.arg(run_id)::text
WHERE id = sqlc.arg(id)
  AND (status IN ('queued', 'running') OR run_id <> sqlc.arg(run_id)::text)
RETURNING status;

-- name: ScanSetProgress :exec
UPDATE scans
SET progress = GREATEST(progress, sqlc.arg(progress)::integer), progress_message = sqlc.arg(message)::text
WHERE id = sqlc.arg(id) AND status = 'running' AND run_id = sqlc.arg(run_id)::text;

-- name: ScanFinish :execrows
-- Terminal states are final for a run: a late retry cannot turn a cancelled
-- scan into a completed one, and an older run cannot overwrite a newer one.
UPDATE scans
SET status = sqlc.arg(status)::text,
    error = sqlc.narg(error),
    progress = CASE WHEN sqlc.arg(status)::text = 'completed' THEN 100 ELSE progress END,
    progress_message = sqlc.arg(status)::text,
    finished_at = now()
WHERE id = sqlc.arg(id) AND status IN ('queued', 'running') AND run_id = sqlc.arg(run_id)::text;

-- name: ScanCountsRefresh :one
-- Only the run that owns the scan may rewrite its counts.
UPDATE scans s
SET count_critical = c.critical, count_high = c.high, count_medium = c.medium,
    count_low = c.low, count_info = c.info,
    diff_new = c.new, diff_open = c.open, diff_fixed = c.fixed, diff_reopened = c.reopened
FROM (
    SELECT count(*) FILTER (WHERE severity = 'critical' AND change <> 'fixed')::integer AS critical,
           count(*) FILTER (WHERE severity = 'high' AND change <> 'fixed')::integer     AS high,
           count(*) FILTER (WHERE severity = 'medium' AND change <> 'fixed')::integer   AS medium,
           count(*) FILTER (WHERE severity = 'low' AND change <> 'fixed')::integer      AS low,
           count(*) FILTER (WHERE severity = 'info' AND change <> 'fixed')::integer     AS info,
           count(*) FILTER (WHERE change = 'new')::integer      AS new,
           count(*) FILTER (WHERE change = 'open')::integer     AS open,
           count(*) FILTER (WHERE change = 'fixed')::integer    AS fixed,
           count(*) FILTER (WHERE change = 'reopened')::integer AS reopened
    FROM scan_findings WHERE scan_id = sqlc.arg(id)
) c
WHERE s.id = sqlc.arg(id) AND s.run_id = sqlc.arg(run_id)::text
RETURNING s.count_critical, s.count_high, s.count_medium, s.count_low, s.count_info,
          s.diff_new, s.diff_open, s.diff_fixed, s.diff_reopened;

-- name: ScanOwnedByRun :one
-- The scan as the run that owns it sees it; no row for any other run.
SELECT * FROM scans WHERE id = sqlc.arg(id) AND run_id = sqlc.arg(run_id)::text;

-- name: ScanClaim :one
-- The run takes the scan over and waits, queued, for a slot of its tenant's
-- gate; a retry of the same run changes nothing.
UPDATE scans
SET status = 'queued', progress = 0, progress_message = 'waiting for a scan slot',
    error = NULL, finished_at = NULL, started_at = NULL, run_id = sqlc.arg(run_id)::text
WHERE id = sqlc.arg(id)
  AND (status IN ('queued', 'running') OR run_id <> sqlc.arg(run_id)::text)
RETURNING status;

-- name: ScansUnfinished :many
-- Unfinished scans older than the grace period, oldest first, a page at a
-- time after (created_at, id), for the reconciler (platform scope). Ages are
-- the database's, so a worker's clock cannot shorten the grace. An import's
-- stored report comes along: its workflow needs it to start again.
SELECT s.id, s.tenant_id, s.target, s.scanners, s.workflow_id, s.status, s.run_id, s.created_at,
       s.schedule_id,
       (s.created_at < now() - make_interval(secs => sqlc.arg(max_start_age_seconds)::double precision))::boolean AS too_old_to_start,
       r.id AS report_id
FROM scans s
LEFT JOIN scan_reports r ON s.source = 'import' AND r.scan_id = s.id AND r.scanner = s.scanners[1]
WHERE s.status IN ('queued', 'running')
  AND s.created_at < now() - make_interval(secs => sqlc.arg(grace_seconds)::double precision)
  AND (s.created_at, s.id) > (sqlc.arg(after_created)::timestamptz, sqlc.arg(after_id)::uuid)
ORDER BY s.created_at, s.id
LIMIT sqlc.arg(lim)::int;

-- name: ScanFailAbandoned :execrows
-- A scan whose workflow ended without finishing it fails, unless a run has
-- taken it over since it was listed (its run_id is no longer the one seen).
UPDATE scans
SET status = 'failed', error = sqlc.arg(error)::text, progress_message = 'failed', finished_at = now()
WHERE id = sqlc.arg(id) AND status IN ('queued', 'running') AND run_id = sqlc.arg(listed_run_id)::text;
