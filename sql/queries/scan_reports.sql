-- name: ScanReportUpsert :one
-- Keyed by (scan, scanner) so a retried scanner activity replaces its report
-- instead of adding a second one.
INSERT INTO scan_reports (tenant_id, scan_id, scanner, content)
VALUES ($1, $2, $3, $4)
ON CONFLICT (scan_id, scanner) DO UPDATE SET content = EXCLUDED.content, created_at = now()
RETURNING id;

-- name: ScanReportGet :one
SELECT * FROM scan_reports WHERE id = $1;

-- name: ScanReportByScanner :one
SELECT * FROM scan_reports WHERE scan_id = $1 AND scanner = $2;

-- name: ScanReportInsertChunked :one
-- An import whose bytes are in scan_report_chunks under this id.
INSERT INTO scan_reports (id, tenant_id, scan_id, scanner, content)
VALUES ($1, $2, $3, $4, ''::bytea)
RETURNING id;
