package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/findings"
)

// merged reads the target's findings as the domain sees them, by title.
func (e *env) merged(target string) map[string]findings.Stored {
	e.t.Helper()
	out := map[string]findings.Stored{}
	err := e.app.InTx(context.Background(), db.TenantScope(e.tenant), func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT id FROM findings WHERE scan_target = $1", target)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		for _, id := range ids {
			f, err := findings.Get(ctx, tx, id)
			if err != nil {
				return err
			}
			out[f.Title] = f
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func reporterNames(f findings.Stored) (names []string, gone []string) {
	for _, r := range f.Reporters {
		names = append(names, r.Scanner)
		if r.Gone {
			gone = append(gone, r.Scanner)
		}
	}
	return names, gone
}

// One issue that two scanners report is one finding with both as reporters,
// the highest severity, one occurrence per scan listing both scanners; it is
// fixed only once every scanner that reported it ran completely without it.
func TestMergedFindingAcrossScanners(t *testing.T) {
	e := newEnv(t)
	const tgt = "http://app.example.test:8080"
	niktoXFO := findings.Finding{Title: "The anti-clickjacking X-Frame-Options header is not present.", Severity: findings.SeverityInfo,
		Host: "app.example.test", Port: 8080, URL: "http://app.example.test:8080/", Scanner: "nikto", Evidence: "Request: GET /\nNikto test: 999976"}
	niktoGit := findings.Finding{Title: "/.git/index: Git Index file may contain directory listing information.", Severity: findings.SeverityMedium,
		Host: "app.example.test", Port: 8080, URL: "http://app.example.test:8080/.git/index", Scanner: "nikto", Evidence: "Request: GET /.git/index"}
	nativeXFO := findings.Finding{Title: "Clickjacking protection missing", Severity: findings.SeverityMedium, Host: "app.example.test", Port: 8080,
		Protocol: "tcp", URL: "http://app.example.test:8080/", Scanner: "secureops", RuleID: "http-missing-x-frame-options", Evidence: "X-Frame-Options: (absent)"}
	nativeGit := findings.Finding{Title: "Git repository exposed over HTTP", Severity: findings.SeverityHigh, Host: "app.example.test", Port: 8080,
		Protocol: "tcp", URL: "http://app.example.test:8080/.git/HEAD", Scanner: "secureops", RuleID: "exposed-git", Evidence: "GET /.git/HEAD -> 200"}
	// The same header on another port of the same host is another finding.
	otherPort := nativeXFO
	otherPort.Port, otherPort.URL = 8443, "http://app.example.test:8443/"
	otherPort.Title = "Clickjacking protection missing (8443)"

	both := []string{"nikto", "secureops"}
	c1 := e.scanBy(tgt, both, true, "scan", map[string][]findings.Finding{
		"nikto": {niktoXFO, niktoGit}, "secureops": {nativeXFO, nativeGit, otherPort}})
	if c1.Diff != (scan.Diff{New: 3}) || c1.High != 1 || c1.Medium != 2 {
		t.Errorf("first scan counts %+v, want 3 new: 1 high, 2 medium", c1)
	}
	fs := e.merged(tgt)
	if len(fs) != 3 {
		t.Fatalf("findings %v, want 3", fs)
	}
	// The first reporter's report is the finding's; severity is the highest.
	xfo, git := fs[niktoXFO.Title], fs[niktoGit.Title]
	if xfo.Severity != findings.SeverityMedium || git.Severity != findings.SeverityHigh {
		t.Errorf("severities %s, %s: want the highest reported (medium, high)", xfo.Severity, git.Severity)
	}
	for _, f := range []findings.Stored{xfo, git} {
		names, gone := reporterNames(f)
		if len(names) != 2 || names[0] != "nikto" || names[1] != "secureops" || len(gone) != 0 {
			t.Errorf("%s: reporters %v (gone %v), want nikto and secureops", f.Title, names, gone)
		}
		if f.Status != "new" {
			t.Errorf("%s: status %s", f.Title, f.Status)
		}
	}
	if r := xfo.Reporters[1]; r.RuleID != "http-missing-x-frame-options" || r.Title != nativeXFO.Title || r.Evidence != nativeXFO.Evidence || r.Severity != findings.SeverityMedium {
		t.Errorf("native reporter %+v", r)
	}
	if names, _ := reporterNames(fs[otherPort.Title]); len(names) != 1 {
		t.Errorf("other port reporters %v, want secureops alone", names)
	}
	var scanners []string
	if err := e.super.QueryRow(context.Background(), `SELECT sf.scanners FROM scan_findings sf WHERE sf.finding_id = $1`, git.ID).Scan(&scanners); err != nil {
		t.Fatal(err)
	}
	if len(scanners) != 2 {
		t.Errorf("occurrence scanners %v, want both", scanners)
	}

	// nikto alone, no longer seeing either: the native checks did not run,
	// so neither is fixed (the other port's finding is not nikto's at all).
	c2 := e.scanBy(tgt, []string{"nikto"}, true, "scan", map[string][]findings.Finding{"nikto": {}})
	if c2.Diff.Fixed != 0 {
		t.Errorf("nikto-only scan fixed %d", c2.Diff.Fixed)
	}
	fs = e.merged(tgt)
	for _, title := range []string{niktoXFO.Title, niktoGit.Title} {
		f := fs[title]
		if _, gone := reporterNames(f); f.Status != "new" || len(gone) != 1 || gone[0] != "nikto" {
			t.Errorf("after nikto-only: %s is %s, gone %v; want new, nikto gone", title, f.Status, gone)
		}
		// A reporter that is gone no longer holds the severity up.
	}
	if s := fs[niktoXFO.Title].Severity; s != findings.SeverityMedium {
		t.Errorf("xfo severity %s after nikto left", s)
	}

	// The native checks alone, seeing the git repository only: the header is
	// now gone for every scanner that reported it, the repository is not.
	c3 := e.scanBy(tgt, []string{"secureops"}, true, "scan", map[string][]findings.Finding{"secureops": {nativeGit, otherPort}})
	if c3.Diff != (scan.Diff{Open: 2, Fixed: 1}) {
		t.Errorf("native-only scan diff %+v, want 2 open, 1 fixed", c3.Diff)
	}
	fs = e.merged(tgt)
	if fs[niktoXFO.Title].Status != "fixed" || fs[niktoGit.Title].Status != "open" || fs[otherPort.Title].Status != "open" {
		t.Errorf("after native-only: xfo %s, git %s, other port %s", fs[niktoXFO.Title].Status, fs[niktoGit.Title].Status, fs[otherPort.Title].Status)
	}

	// nikto sees the header again: reopened, nikto no longer gone, the
	// native reporter still is.
	c4 := e.scanBy(tgt, []string{"nikto"}, true, "scan", map[string][]findings.Finding{"nikto": {niktoXFO}})
	if c4.Diff != (scan.Diff{Reopened: 1}) {
		t.Errorf("nikto rescan diff %+v, want 1 reopened", c4.Diff)
	}
	xfo = e.merged(tgt)[niktoXFO.Title]
	if _, gone := reporterNames(xfo); xfo.Status != "reopened" || len(gone) != 1 || gone[0] != "secureops" || xfo.Severity != findings.SeverityInfo {
		t.Errorf("reopened xfo: %s, gone %v, severity %s", xfo.Status, gone, xfo.Severity)
	}
}

// A retry of the same scanner's ingest in the same scan changes nothing, and
// the second scanner of a scan is recorded even when its report of the shared
// finding changes none of the finding's own columns.
func TestMergedIngestIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const tgt = "app.example.test"
	id := uuid.New()
	if _, err := e.super.Exec(ctx, `INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, complete, source)
		VALUES ($1, $2, $3, '{nmap,nuclei}', $4, true, 'scan')`, id, e.tenant, tgt, "scan/"+id.String()); err != nil {
		t.Fatal(err)
	}
	nmap := findings.Finding{Title: "Open port 5432/tcp: postgresql", Severity: findings.SeverityInfo, Host: tgt, Port: 5432, Protocol: "tcp", Scanner: "nmap", RuleID: "open-port"}
	nuclei := findings.Finding{Title: "Open port 5432/tcp: postgresql", Severity: findings.SeverityInfo, Host: tgt, Port: 5432, Protocol: "tcp", Scanner: "nuclei", RuleID: "pgsql-detect:open-port"}
	ingest := func(scanner string, f findings.Finding) db.IngestResult {
		var res db.IngestResult
		err := e.app.InTx(ctx, db.TenantScope(e.tenant), func(ctx context.Context, tx pgx.Tx) error {
			var err error
			res, err = db.IngestFindings(ctx, tx, db.IngestBatch{TenantID: e.tenant, ScanID: id, Scanner: scanner, ScanTarget: tgt, Findings: []findings.Finding{f}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if r := ingest("nmap", nmap); r.Upserted != 1 {
		t.Errorf("nmap: %+v", r)
	}
	if r := ingest("nmap", nmap); r.Upserted != 0 {
		t.Errorf("nmap retry wrote %+v", r)
	}
	if r := ingest("nuclei", nuclei); r.Upserted != 1 {
		t.Errorf("nuclei (same title, severity): %+v", r)
	}
	if r := ingest("nuclei", nuclei); r.Upserted != 0 {
		t.Errorf("nuclei retry wrote %+v", r)
	}
	var n int
	var scanners []string
	if err := e.super.QueryRow(ctx, `SELECT count(*) OVER (), sf.scanners FROM scan_findings sf WHERE sf.scan_id = $1`, id).Scan(&n, &scanners); err != nil {
		t.Fatal(err)
	}
	if n != 1 || len(scanners) != 2 {
		t.Errorf("occurrences %d, scanners %v; want one with nmap and nuclei", n, scanners)
	}
	// A re-run of nuclei that no longer sees it takes nuclei off the
	// occurrence and leaves nmap's.
	other := nuclei
	other.Port, other.Title = 5433, "Open port 5433/tcp"
	ingest("nuclei", other)
	rows, err := e.super.Query(ctx, `SELECT f.port, sf.scanners FROM scan_findings sf JOIN findings f ON f.id = sf.finding_id WHERE sf.scan_id = $1 ORDER BY f.port`, id)
	if err != nil {
		t.Fatal(err)
	}
	type occ struct {
		Port     int32
		Scanners []string
	}
	occs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[occ])
	if err != nil {
		t.Fatal(err)
	}
	if len(occs) != 2 || len(occs[0].Scanners) != 1 || occs[0].Scanners[0] != "nmap" || occs[1].Scanners[0] != "nuclei" {
		t.Errorf("after the nuclei re-run: %+v", occs)
	}
}
