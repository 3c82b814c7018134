-- name: IntelSourceGet :one
SELECT * FROM intel_sources WHERE name = $1;

-- name: IntelSourceChecked :exec
-- A refresh that found nothing new (304, same version) still says when it
-- looked, and keeps the newest validator it was given.
INSERT INTO intel_sources (name, url, etag, checked_at)
VALUES (sqlc.arg(name)::text, sqlc.arg(url)::text, sqlc.arg(etag)::text, now())
ON CONFLICT (name) DO UPDATE SET checked_at = now(), url = EXCLUDED.url,
    etag = CASE WHEN EXCLUDED.etag <> '' THEN EXCLUDED.etag ELSE intel_sources.etag END;

-- name: IntelSourcePut :exec
INSERT INTO intel_sources (name, url, etag, version, model_version, published_at, rows, loaded_at, checked_at)
VALUES (sqlc.arg(name)::text, sqlc.arg(url)::text, sqlc.arg(etag)::text, sqlc.arg(version)::text,
        sqlc.arg(model_version)::text, sqlc.narg(published_at)::timestamptz, sqlc.arg(rows)::integer, now(), now())
ON CONFLICT (name) DO UPDATE SET
    url = EXCLUDED.url, etag = EXCLUDED.etag, version = EXCLUDED.version, model_version = EXCLUDED.model_version,
    published_at = EXCLUDED.published_at, rows = EXCLUDED.rows, loaded_at = now(), checked_at = now();

-- name: IntelEPSSStageCopy :copyfrom
INSERT INTO intel_epss_stage (cve, epss, percentile) VALUES ($1, $2, $3);

-- name: IntelKEVStageCopy :copyfrom
INSERT INTO intel_kev_stage (cve_id, vendor, product, name, description, required_action, date_added, due_date,
                             known_ransomware, notes, cwes)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);

-- name: IntelEPSSCount :one
SELECT count(*)::integer FROM intel_epss;

-- name: IntelKEVCount :one
SELECT count(*)::integer FROM intel_kev;

-- name: IntelEPSSDeleteAll :execrows
-- The swap is this and IntelEPSSInsertFromStage in one transaction.
DELETE FROM intel_epss;

-- name: IntelEPSSInsertFromStage :execrows
-- A CVE listed twice keeps its highest score.
INSERT INTO intel_epss (cve, epss, percentile)
SELECT DISTINCT ON (cve) cve, epss, percentile FROM intel_epss_stage ORDER BY cve, epss DESC;

-- name: IntelKEVDeleteAll :execrows
DELETE FROM intel_kev;

-- name: IntelKEVInsertFromStage :execrows
INSERT INTO intel_kev (cve_id, vendor, product, name, description, required_action, date_added, due_date,
                       known_ransomware, notes, cwes)
SELECT DISTINCT ON (cve_id) cve_id, vendor, product, name, description, required_action, date_added, due_date,
       known_ransomware, notes, cwes
FROM intel_kev_stage ORDER BY cve_id, date_added;

-- name: IntelKEVGet :one
SELECT * FROM intel_kev WHERE cve_id = $1;

-- name: IntelEPSSGet :one
SELECT * FROM intel_epss WHERE cve = $1;

-- name: FindingAlertKEVInsert :many
-- The decision to alert, recorded once per finding: an open finding in KEV
-- whose CVE entered the catalogue on or after the day the finding was first
-- seen (it was not known exploited when the tenant learnt of it) and
-- recently (added on or after since), within the page (after, last] of the
-- refresh. batch_id is one per tenant and page.
WITH new AS (
    INSERT INTO finding_alerts (finding_id, kind, tenant_id, batch_id)
    SELECT f.id, 'kev', f.tenant_id, md5(sqlc.arg(batch_key)::text || '/' || f.tenant_id::text)::uuid
    FROM findings f
    WHERE f.id > sqlc.arg(after)::uuid AND f.id <= sqlc.arg(last)::uuid
      AND f.status IN ('new', 'open', 'reopened') AND cardinality(f.cves) > 0 AND f.kev
      AND f.kev_date_added >= (f.first_seen_at AT TIME ZONE 'UTC')::date
      AND f.kev_date_added >= sqlc.arg(since)::date
    ON CONFLICT (finding_id, kind) DO NOTHING
    RETURNING finding_id, tenant_id, batch_id
)
SELECT new.tenant_id, new.batch_id, f.id, f.title, f.severity, f.cves, f.host, f.port, f.url, f.component,
       f.component_version, f.scan_target, f.kev_date_added, COALESCE(f.priority, 0)::integer AS priority,
       EXISTS (SELECT 1 FROM intel_kev k WHERE k.cve_id = ANY (f.cves) AND k.known_ransomware)::boolean AS known_ransomware
FROM new JOIN findings f ON f.id = new.finding_id
ORDER BY new.tenant_id, f.priority DESC NULLS LAST, f.id;

-- name: FindingAlertPendingTenants :many
-- Tenants with KEV alerts not emailed yet.
SELECT DISTINCT tenant_id FROM finding_alerts WHERE emailed_at IS NULL AND kind = 'kev' ORDER BY tenant_id;

-- name: IntelKEVDeliveriesPending :many
-- finding.kev deliveries still to send: never tried, or left pending for
-- over an hour (a Notify workflow gives up within about 40 minutes, so such
-- a delivery has nobody retrying it); a week back at most.
SELECT d.tenant_id, d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
WHERE d.event_type = 'finding.kev' AND d.status = 'pending' AND w.active
  AND d.created_at > now() - interval '7 days'
  AND (d.attempts = 0 OR d.created_at < now() - interval '1 hour')
ORDER BY d.tenant_id, d.created_at, d.id;

-- name: FindingAlertUnemailed :many
-- A tenant's KEV alerts not emailed yet, by batch, worst first.
SELECT a.batch_id, f.id, f.title, f.severity, f.cves, f.host, f.port, f.url, f.component, f.scan_target,
       f.kev_date_added, COALESCE(f.priority, 0)::integer AS priority
FROM finding_alerts a JOIN findings f ON f.id = a.finding_id
WHERE a.tenant_id = sqlc.arg(tenant_id)::uuid AND a.kind = 'kev' AND a.emailed_at IS NULL
ORDER BY a.batch_id, f.priority DESC NULLS LAST, f.id
LIMIT 5000;

-- name: FindingAlertMarkEmailed :exec
UPDATE finding_alerts SET emailed_at = now()
WHERE tenant_id = sqlc.arg(tenant_id)::uuid AND batch_id = sqlc.arg(batch_id)::uuid AND emailed_at IS NULL;
