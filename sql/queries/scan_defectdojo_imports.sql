-- name: DefectDojoImportGet :one
SELECT * FROM scan_defectdojo_imports WHERE scan_id = $1 AND scanner = $2;

-- name: DefectDojoImportRecord :exec
INSERT INTO scan_defectdojo_imports (scan_id, scanner, tenant_id, test_id, build_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (scan_id, scanner) DO NOTHING;

-- name: DefectDojoImportsOfScan :many
SELECT * FROM scan_defectdojo_imports WHERE scan_id = $1 ORDER BY scanner;
