package db

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/findings"
)

// IngestResult says what one batch did to the findings store.
type IngestResult struct {
	Staged   int64 `json:"staged"`   // rows copied in
	Upserted int64 `json:"upserted"` // occurrences inserted or changed (0 for an unchanged re-import)
	Linked   int64 `json:"linked"`   // distinct findings the scan now holds for this scanner
}

// IngestBatch is one scanner's findings for one scan.
type IngestBatch struct {
	TenantID uuid.UUID
	ScanID   uuid.UUID
	// Scanner is the scan's scanner (the report format), which owns the
	// occurrences: a re-run replaces them, and a complete scan by it fixes
	// what it no longer reports.
	Scanner string
	// ScanTarget is the scan's canonical target, the scope of "fixed".
	ScanTarget string
	Findings   []findings.Finding
}

// IngestFindings stores a scan's findings in one round of COPY plus one
// set-based statement, whatever the batch size: COPY into a transaction-local
// staging table, then one upsert on (tenant_id, fingerprint) that also records
// the scan's occurrences. Running it again for the same scan and scanner replaces
// that scanner's occurrences: a retry changes nothing, a re-run after a reset
// drops what it no longer finds.
func IngestFindings(ctx context.Context, tx pgx.Tx, b IngestBatch) (IngestResult, error) {
	var res IngestResult
	batch := b.Findings
	// The upsert sorts the batch by fingerprint; in memory, not on disk. No
	// JIT: compiling the upsert costs more than running it (its estimated
	// cost is far above jit_above_cost for a large batch, and huge with
	// enable_nestloop off below).
	if _, err := tx.Exec(ctx, "SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)"); err != nil {
		return res, fmt.Errorf("set work_mem and jit: %w", err)
	}
	// Shadows public.finding_stage for this transaction only (see the migration).
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE finding_stage (LIKE public.finding_stage) ON COMMIT DROP"); err != nil {
		return res, fmt.Errorf("create staging table: %w", err)
	}
	rows := make([]dbq.FindingStageCopyParams, 0, len(batch))
	distinct := make(map[string]struct{}, len(batch))
	for i := range batch {
		f := &batch[i]
		f.Normalize()
		distinct[clean(f.Fingerprint)] = struct{}{}
		rows = append(rows, dbq.FindingStageCopyParams{
			Fingerprint:      clean(f.Fingerprint),
			Title:            clean(truncate(f.Title, 1000)),
			Severity:         string(f.Severity),
			Cves:             cleanAll(f.CVEs),
			Cwes:             int32s(f.CWEs),
			CvssScore:        f.CVSSScore,
			CvssVector:       clean(f.CVSSVector),
			Component:        clean(f.Component),
			ComponentVersion: clean(f.ComponentVersion),
			Host:             clean(f.Host),
			Port:             int32(f.Port),
			Protocol:         clean(f.Protocol),
			Url:              clean(f.URL),
			Target:           clean(f.Target),
			Scanner:          clean(f.Scanner),
			RuleID:           clean(f.RuleID),
			Description:      clean(f.Description),
			Remediation:      clean(f.Remediation),
			Refs:             cleanAll(f.References),
			Evidence:         clean(f.Evidence),
		})
	}
	// The batch's findings carry their exploit intelligence, priority and
	// deadline at once, not after the next intel refresh.
	if err := ingestIntel(ctx, tx, b.TenantID, rows); err != nil {
		return res, fmt.Errorf("enrich findings: %w", err)
	}
	n, err := Q.FindingStageCopy(ctx, tx, rows)
	if err != nil {
		return res, fmt.Errorf("copy findings: %w", err)
	}
	res.Staged = n
	// Only a re-run whose fingerprints differ from the last attempt's can
	// have anything to prune: a first attempt, and a retry of the same
	// report, skip indexing and probing the stage.
	digest := fingerprintDigest(distinct)
	prune, err := needsPrune(ctx, tx, b, digest)
	if err != nil {
		return res, err
	}
	if prune {
		// The prune probes the stage once per occurrence the scan already has.
		// Right after a large first import the findings tables' statistics are
		// stale (autovacuum has not run), the planner expects one occurrence and
		// picks a nested loop: without this index each probe is a full scan of
		// the stage, and re-importing 100k findings took minutes.
		if _, err := tx.Exec(ctx, "CREATE INDEX ON finding_stage (fingerprint)"); err != nil {
			return res, fmt.Errorf("index staging table: %w", err)
		}
		if _, err := tx.Exec(ctx, "ANALYZE finding_stage (fingerprint)"); err != nil {
			return res, fmt.Errorf("analyze staging table: %w", err)
		}
		if _, err = Q.ScanFindingPruneForScanner(ctx, tx, dbq.ScanFindingPruneForScannerParams{ScanID: b.ScanID, Scanner: b.Scanner}); err != nil {
			return res, fmt.Errorf("prune findings of a re-run: %w", err)
		}
		if _, err = Q.ScanFindingPruneEmpty(ctx, tx, b.ScanID); err != nil {
			return res, fmt.Errorf("prune findings of a re-run: %w", err)
		}
	}
	// Right after findings was created, truncated or bulk loaded its
	// statistics say it is (nearly) empty until autovacuum analyses it; the
	// planner then probes it with a nested loop over a sequential scan, once
	// per staged row, and a 100k re-import runs for many minutes. While the
	// statistics say so, this one statement hashes findings instead (one
	// pass, whatever its real size); with real statistics the planner
	// chooses (index probes for a small batch into a large table).
	var tuples float64
	if err := tx.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = 'public.findings'::regclass").Scan(&tuples); err != nil {
		return res, fmt.Errorf("read the findings' statistics: %w", err)
	}
	stale := tuples < staleTuples && len(rows) >= staleTuples/10
	if stale {
		if _, err := tx.Exec(ctx, "SET LOCAL enable_nestloop = off"); err != nil {
			return res, fmt.Errorf("plan the upsert: %w", err)
		}
	}
	if res.Upserted, err = Q.FindingUpsertFromStage(ctx, tx, dbq.FindingUpsertFromStageParams{
		TenantID: b.TenantID, ScanID: b.ScanID, ScanTarget: b.ScanTarget, ReportedBy: b.Scanner,
	}); err != nil {
		return res, fmt.Errorf("upsert findings: %w", err)
	}
	if stale {
		if _, err := tx.Exec(ctx, "SET LOCAL enable_nestloop = on"); err != nil {
			return res, fmt.Errorf("plan the upsert: %w", err)
		}
	}
	if prune {
		if _, err := Q.ScanFindingRelink(ctx, tx, dbq.ScanFindingRelinkParams{ScanID: b.ScanID, TenantID: b.TenantID, Scanner: b.Scanner}); err != nil {
			return res, fmt.Errorf("relink findings of an earlier attempt: %w", err)
		}
	}
	if err := Q.ScanIngestDigestPut(ctx, tx, dbq.ScanIngestDigestPutParams{
		ScanID: b.ScanID, Scanner: b.Scanner, TenantID: b.TenantID, Digest: digest,
	}); err != nil {
		return res, fmt.Errorf("record the digest: %w", err)
	}
	// Distinct fingerprints staged = occurrences this scanner now has in the
	// scan: unchanged ones were linked by the earlier attempt.
	res.Linked = int64(len(distinct))
	return res, nil
}

// staleTuples: findings' statistics below this many rows are taken for
// "not analysed since a bulk load" when a batch of a tenth of it arrives.
const staleTuples = 10000

// needsPrune says whether an earlier attempt of this scan linked findings of
// this scanner that the batch (with this digest) may no longer hold. The
// digest each attempt records answers it; attempts from before digests were
// recorded are looked for among the occurrences.
func needsPrune(ctx context.Context, tx pgx.Tx, b IngestBatch, digest []byte) (bool, error) {
	last, err := Q.ScanIngestDigestGet(ctx, tx, dbq.ScanIngestDigestGetParams{ScanID: b.ScanID, Scanner: b.Scanner})
	if err == nil {
		return !bytes.Equal(last, digest), nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("read the last attempt's digest: %w", err)
	}
	linked, err := Q.ScanFindingsHasForScanner(ctx, tx, dbq.ScanFindingsHasForScannerParams{ScanID: b.ScanID, Scanner: b.Scanner})
	if err != nil {
		return false, fmt.Errorf("look for an earlier attempt: %w", err)
	}
	return linked, nil
}

// fingerprintDigest identifies a set of fingerprints, whatever their order.
func fingerprintDigest(set map[string]struct{}) []byte {
	fps := make([]string, 0, len(set))
	for fp := range set {
		fps = append(fps, fp)
	}
	slices.Sort(fps)
	h := sha256.New()
	for _, fp := range fps {
		h.Write([]byte(fp))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// clean makes scanner text storable: Postgres text rejects NUL bytes and
// invalid UTF-8, and scanners echo whatever a target sent them.
func clean(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

func cleanAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = clean(s)
	}
	return out
}

func int32s(in []int) []int32 {
	out := make([]int32, len(in))
	for i, v := range in {
		out[i] = int32(v)
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
