-- name: ReportCreate :one
INSERT INTO reports (id, tenant_id, kind, scan_id, period_from, period_to, requested_by, workflow_id)
VALUES (@id, @tenant_id, @kind, sqlc.narg(scan_id)::uuid, sqlc.narg(period_from)::timestamptz,
        sqlc.narg(period_to)::timestamptz, sqlc.narg(requested_by)::uuid, @workflow_id)
RETURNING *;

-- name: ReportGet :one
SELECT * FROM reports WHERE id = $1;

-- name: ReportList :many
-- A tenant's reports, newest first (keyset on created_at, id).
SELECT * FROM reports
WHERE tenant_id = @tenant_id
  AND (sqlc.narg(before_created)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(before_created)::timestamptz, sqlc.narg(before_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(lim);

-- name: ReportContentInsert :execrows
-- The first stored rendering of a report stays: a retry stores nothing.
INSERT INTO report_contents (report_id, tenant_id, markdown, html, pdf)
VALUES (@report_id, @tenant_id, @markdown, @html, @pdf)
ON CONFLICT (report_id) DO NOTHING;

-- name: ReportContentGet :one
SELECT * FROM report_contents WHERE report_id = $1;

-- name: ReportMarkReady :exec
-- A report ready already keeps its facts and provenance.
UPDATE reports SET status = 'ready', facts = COALESCE(facts, @facts),
    prose_source = CASE WHEN status = 'ready' THEN prose_source ELSE @prose_source END,
    ready_at = COALESCE(ready_at, now()), error = ''
WHERE id = @id;

-- name: ReportMarkFailed :exec
-- A ready report stays ready.
UPDATE reports SET status = 'failed', error = @error WHERE id = @id AND status <> 'ready';

-- name: ReportMarkEmailed :exec
UPDATE reports SET emailed_at = COALESCE(emailed_at, now()) WHERE id = $1;

-- name: ReportFeedbackCreate :one
INSERT INTO report_feedback (report_id, tenant_id, user_id, api_key_id, useful, comment)
VALUES (@report_id, @tenant_id, sqlc.narg(user_id)::uuid, sqlc.narg(api_key_id)::uuid, @useful, @comment)
RETURNING *;

-- name: ReportFeedbackSummary :one
SELECT count(*) FILTER (WHERE useful)::integer AS useful, count(*) FILTER (WHERE NOT useful)::integer AS not_useful
FROM report_feedback WHERE report_id = $1;

-- name: ReportScanWindow :one
-- A scan report's scope: the scan's target and the time it ran.
SELECT id, target, status, created_at, COALESCE(finished_at, now())::timestamptz AS finished_at FROM scans WHERE id = $1;

-- name: ReportFactsCounts :many
-- Findings in a report's scope by severity and status: a scan's findings
-- (with the severity the scan gave them, as the scan's counts), or those
-- seen during the period.
SELECT COALESCE(sf.severity, f.severity)::text AS severity, f.status, count(*)::integer AS n,
       count(*) FILTER (WHERE f.kev)::integer AS kev
FROM findings f
LEFT JOIN scan_findings sf ON sf.finding_id = f.id AND sf.scan_id = sqlc.narg(scan_id)::uuid
WHERE f.tenant_id = @tenant_id
  AND CASE WHEN sqlc.narg(scan_id)::uuid IS NOT NULL
           THEN sf.scan_id IS NOT NULL
           ELSE f.first_seen_at < @period_to AND f.last_seen_at >= @period_from END
GROUP BY 1, f.status;

-- name: ReportFactsTop :many
-- The open findings in scope with the highest priority.
SELECT f.id, f.title, f.severity, f.status, COALESCE(f.priority, 0)::integer AS priority, f.kev,
       f.epss, f.epss_percentile, f.cves, f.host, f.port, f.url, f.target, f.component, f.component_version,
       f.sla_due_at, f.scanner, f.rule_id
FROM findings f
WHERE f.tenant_id = @tenant_id AND f.status IN ('new', 'open', 'reopened')
  AND CASE WHEN sqlc.narg(scan_id)::uuid IS NOT NULL
           THEN EXISTS (SELECT 1 FROM scan_findings sf WHERE sf.scan_id = sqlc.narg(scan_id)::uuid AND sf.finding_id = f.id)
           ELSE f.first_seen_at < @period_to AND f.last_seen_at >= @period_from END
ORDER BY COALESCE(f.priority, -1) DESC, f.epss DESC NULLS LAST, f.id
LIMIT sqlc.arg(lim);

-- name: ReportFactsWindow :one
-- New and fixed findings in the window (a scan's: on its target), open
-- findings in scope past their SLA deadline, and the scans run.
SELECT
  (SELECT count(*) FROM findings f WHERE f.tenant_id = @tenant_id
     AND f.first_seen_at >= @period_from AND f.first_seen_at < @period_to
     AND (sqlc.narg(target)::text IS NULL OR f.target = sqlc.narg(target)::text))::integer AS new_findings,
  (SELECT count(*) FROM findings f WHERE f.tenant_id = @tenant_id
     AND f.fixed_at >= @period_from AND f.fixed_at < @period_to
     AND (sqlc.narg(target)::text IS NULL OR f.target = sqlc.narg(target)::text))::integer AS fixed_findings,
  (SELECT count(*) FROM findings f WHERE f.tenant_id = @tenant_id
     AND f.status IN ('new', 'open', 'reopened') AND f.sla_due_at < @now
     AND CASE WHEN sqlc.narg(scan_id)::uuid IS NOT NULL
              THEN EXISTS (SELECT 1 FROM scan_findings sf WHERE sf.scan_id = sqlc.narg(scan_id)::uuid AND sf.finding_id = f.id)
              ELSE f.first_seen_at < @period_to AND f.last_seen_at >= @period_from END)::integer AS sla_overdue,
  (SELECT count(*) FROM scans s WHERE s.tenant_id = @tenant_id
     AND s.created_at >= @period_from AND s.created_at < @period_to
     AND (sqlc.narg(scan_id)::uuid IS NULL OR s.id = sqlc.narg(scan_id)::uuid))::integer AS scans_run,
  (SELECT count(*) FROM scans s WHERE s.tenant_id = @tenant_id AND s.status = 'failed'
     AND s.created_at >= @period_from AND s.created_at < @period_to
     AND (sqlc.narg(scan_id)::uuid IS NULL OR s.id = sqlc.narg(scan_id)::uuid))::integer AS scans_failed;
