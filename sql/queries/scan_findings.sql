-- name: ScanFindingPruneForScanner :execrows
-- A re-run of a scan (retry or reset) replaces what this scanner reported for
-- it, so issues the re-run no longer sees are not counted twice: the scanner
-- leaves the occurrence, and ScanFindingPruneEmpty drops occurrences no
-- scanner holds any more. NOT EXISTS, not NOT IN: a hashed NOT IN falls back
-- to a rescan per row once the staged fingerprints outgrow work_mem, which
-- made a 100k re-import take minutes.
UPDATE scan_findings sf SET scanners = array_remove(sf.scanners, sqlc.arg(scanner)::text)
FROM findings f
WHERE sf.scan_id = sqlc.arg(scan_id)::uuid
  AND f.id = sf.finding_id
  AND sqlc.arg(scanner)::text = ANY (sf.scanners)
  AND sf.change <> 'fixed'
  AND NOT EXISTS (SELECT 1 FROM finding_stage s WHERE s.fingerprint = f.fingerprint);

-- name: ScanFindingPruneEmpty :execrows
DELETE FROM scan_findings
WHERE scan_id = sqlc.arg(scan_id)::uuid AND change <> 'fixed' AND scanners = '{}';

-- name: ScanFindingsHasForScanner :one
-- Whether an earlier attempt of this scan already linked findings of this
-- scanner (the prune's own conditions), for attempts that left no digest.
SELECT EXISTS (
    SELECT 1 FROM scan_findings sf
    WHERE sf.scan_id = sqlc.arg(scan_id)::uuid
      AND sqlc.arg(scanner)::text = ANY (sf.scanners)
      AND sf.change <> 'fixed'
)::boolean AS linked;

-- name: ScanIngestDigestGet :one
SELECT digest FROM scan_ingest_digests WHERE scan_id = sqlc.arg(scan_id)::uuid AND scanner = sqlc.arg(scanner)::text;

-- name: ScanIngestDigestPut :exec
INSERT INTO scan_ingest_digests (scan_id, scanner, tenant_id, digest)
VALUES (sqlc.arg(scan_id)::uuid, sqlc.arg(scanner)::text, sqlc.arg(tenant_id)::uuid, sqlc.arg(digest)::bytea)
ON CONFLICT (scan_id, scanner) DO UPDATE
SET digest = EXCLUDED.digest, updated_at = now();

-- name: ScanFindingRelink :execrows
-- After the upsert of a re-run whose fingerprints differ from the last
-- attempt's: a finding an earlier attempt of this scan saw, a later one
-- pruned, and this one sees again unchanged is skipped by the upsert (same
-- scan, same content) and must get this scanner's occurrence back here.
INSERT INTO scan_findings (scan_id, finding_id, tenant_id, severity, change, scanners)
SELECT DISTINCT sqlc.arg(scan_id)::uuid, f.id, f.tenant_id, f.severity,
       CASE WHEN f.first_scan_id = sqlc.arg(scan_id)::uuid THEN 'new'
            WHEN f.status = 'reopened' THEN 'reopened'
            ELSE 'open' END,
       ARRAY[sqlc.arg(scanner)::text]
FROM finding_stage s
JOIN findings f ON f.tenant_id = sqlc.arg(tenant_id)::uuid AND f.fingerprint = s.fingerprint
WHERE f.reporters -> sqlc.arg(scanner)::text ->> 'last_scan_id' = sqlc.arg(scan_id)::uuid::text
  AND NOT EXISTS (SELECT 1 FROM scan_findings sf WHERE sf.scan_id = sqlc.arg(scan_id)::uuid AND sf.finding_id = f.id
                  AND sqlc.arg(scanner)::text = ANY (sf.scanners))
ON CONFLICT (scan_id, finding_id) DO UPDATE SET scanners = scan_findings.scanners || EXCLUDED.scanners;
