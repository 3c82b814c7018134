package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/findings"
)

// scanBy runs one scan of target by the given scanners the way the workflow
// does; reports holds what each scanner reported (absent: it stored no report).
func (e *env) scanBy(target string, scanners []string, complete bool, source string, reports map[string][]findings.Finding) scan.Counts {
	e.t.Helper()
	ctx := context.Background()
	id := uuid.New()
	if _, err := e.super.Exec(ctx, `INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, complete, source)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, e.tenant, target, scanners, "scan/"+id.String(), complete, source); err != nil {
		e.t.Fatal(err)
	}
	ref := scan.Ref{TenantID: e.tenant, ScanID: id}
	if err := e.acts.ScanMarkRunning(ctx, ref); err != nil {
		e.t.Fatal(err)
	}
	for _, s := range scanners {
		fs, ok := reports[s]
		if !ok {
			continue
		}
		err := e.app.InTx(ctx, db.TenantScope(e.tenant), func(ctx context.Context, tx pgx.Tx) error {
			_, err := db.IngestFindings(ctx, tx, db.IngestBatch{TenantID: e.tenant, ScanID: id, Scanner: s, ScanTarget: target, Findings: fs})
			return err
		})
		if err != nil {
			e.t.Fatal(err)
		}
	}
	c, err := e.acts.ScanFinish(ctx, scan.FinishInput{TenantID: e.tenant, ScanID: id, Status: "completed"})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// statusesBy maps "reported_by title" to status for the target's findings.
func (e *env) statusesBy(target string) map[string]string {
	e.t.Helper()
	rows, err := e.super.Query(context.Background(),
		"SELECT reported_by || ' ' || title, status FROM findings WHERE tenant_id = $1 AND scan_target = $2", e.tenant, target)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, s string
		if err := rows.Scan(&k, &s); err != nil {
			e.t.Fatal(err)
		}
		out[k] = s
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func wantStatusesBy(t *testing.T, step string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: statuses %v, want %v", step, got, want)
	}
	for k, s := range want {
		if got[k] != s {
			t.Errorf("%s: %s is %q, want %q (all: %v)", step, k, got[k], s, got)
		}
	}
}

// A complete scan fixes only what its own scanners no longer report: another
// scanner's findings on the same target say nothing about this scan, and an
// incomplete scan (an import) fixes nothing at all.
func TestFixedOnlyByTheSameScanner(t *testing.T) {
	e := newEnv(t)
	const tgt = "app.example.test"
	port := func(p int) findings.Finding {
		return findings.Finding{Title: fmt.Sprintf("open port %d", p),
			Severity: findings.SeverityLow, Host: "app.example.test", Port: p, Protocol: "tcp", Scanner: "nmap", RuleID: "open-port"}
	}
	page := func(title, path string) findings.Finding {
		return findings.Finding{Title: title, Severity: findings.SeverityMedium, Host: "app.example.test", Port: 80,
			URL: "http://app.example.test" + path, Scanner: "nikto", RuleID: title}
	}
	nmapAll := []findings.Finding{port(22), port(80), port(443)}
	niktoAll := []findings.Finding{page("missing x-frame-options", "/"), page("admin page", "/admin")}

	c1 := e.scanBy(tgt, []string{"nmap", "nikto"}, true, "scan", map[string][]findings.Finding{"nmap": nmapAll, "nikto": niktoAll})
	if c1.Diff != (scan.Diff{New: 5}) {
		t.Errorf("scan 1 diff %+v, want 5 new", c1.Diff)
	}
	wantStatusesBy(t, "scan 1", e.statusesBy(tgt), map[string]string{
		"nmap open port 22": "new", "nmap open port 80": "new", "nmap open port 443": "new",
		"nikto missing x-frame-options": "new", "nikto admin page": "new",
	})

	// nmap alone, seeing only port 22: its other ports are gone, nikto's
	// findings were not looked for.
	c2 := e.scanBy(tgt, []string{"nmap"}, true, "scan", map[string][]findings.Finding{"nmap": {port(22)}})
	if c2.Diff != (scan.Diff{Open: 1, Fixed: 2}) {
		t.Errorf("nmap-only scan diff %+v, want 1 open and 2 fixed", c2.Diff)
	}
	afterNmap := map[string]string{
		"nmap open port 22": "open", "nmap open port 80": "fixed", "nmap open port 443": "fixed",
		"nikto missing x-frame-options": "new", "nikto admin page": "new",
	}
	wantStatusesBy(t, "nmap-only scan", e.statusesBy(tgt), afterNmap)

	// An incomplete import by both scanners that lacks all of nikto's
	// findings fixes nothing.
	c3 := e.scanBy(tgt, []string{"nmap", "nikto"}, false, "import", map[string][]findings.Finding{"nmap": {port(22)}, "nikto": {}})
	if c3.Diff.Fixed != 0 {
		t.Errorf("incomplete import fixed %d findings", c3.Diff.Fixed)
	}
	wantStatusesBy(t, "incomplete import", e.statusesBy(tgt), afterNmap)

	// The mirror: nikto alone fixes its own missing finding and leaves nmap's.
	c4 := e.scanBy(tgt, []string{"nikto"}, true, "scan", map[string][]findings.Finding{"nikto": {page("admin page", "/admin")}})
	if c4.Diff != (scan.Diff{Open: 1, Fixed: 1}) {
		t.Errorf("nikto-only scan diff %+v, want 1 open and 1 fixed", c4.Diff)
	}
	wantStatusesBy(t, "nikto-only scan", e.statusesBy(tgt), map[string]string{
		"nmap open port 22": "open", "nmap open port 80": "fixed", "nmap open port 443": "fixed",
		"nikto missing x-frame-options": "fixed", "nikto admin page": "open",
	})
}
