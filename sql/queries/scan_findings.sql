-- name: ScanFindingPruneForScanner :execrows
-- A re-run of a scan (retry or reset) replaces what this scanner reported for
-- it, so issues the re-run no longer sees are not counted twice.
DELETE FROM scan_findings sf
USING findings f
WHERE sf.scan_id = sqlc.arg(scan_id)::uuid
  AND f.id = sf.finding_id
  AND f.scanner = sqlc.arg(scanner)::text
  AND f.fingerprint NOT IN (SELECT fingerprint FROM finding_stage);
