-- name: ScanReportChunkInsert :exec
INSERT INTO scan_report_chunks (report_id, seq, tenant_id, data) VALUES ($1, $2, $3, $4);

-- name: ScanReportChunksByReport :many
SELECT data FROM scan_report_chunks WHERE report_id = $1 ORDER BY seq;

-- name: ScanReportChunksDelete :exec
DELETE FROM scan_report_chunks WHERE report_id = $1;
