-- name: ScanFindingPruneForScanner :execrows
-- A re-run of a scan (retry or reset) replaces what this scanner reported for
-- it, so issues the re-run no longer sees are not counted twice. NOT EXISTS,
-- not NOT IN: a hashed NOT IN falls back to a rescan per row once the staged
-- fingerprints outgrow work_mem, which made a 100k re-import take minutes.
DELETE FROM scan_findings sf
USING findings f
WHERE sf.scan_id = sqlc.arg(scan_id)::uuid
  AND f.id = sf.finding_id
  AND f.reported_by = sqlc.arg(scanner)::text
  AND sf.change <> 'fixed'
  AND NOT EXISTS (SELECT 1 FROM finding_stage s WHERE s.fingerprint = f.fingerprint);

-- name: ScanFindingsHasForScanner :one
-- Whether an earlier attempt of this scan already linked findings of this
-- scanner: only then has a re-run anything to prune.
SELECT EXISTS (
    SELECT 1 FROM scan_findings sf
    JOIN findings f ON f.id = sf.finding_id
    WHERE sf.scan_id = sqlc.arg(scan_id)::uuid
      AND f.reported_by = sqlc.arg(scanner)::text
      AND sf.change <> 'fixed'
)::boolean AS linked;
