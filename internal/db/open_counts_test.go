package db_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

// openCountsMatch fails unless finding_open_counts holds exactly the open
// findings' COUNT per tenant, scan target, severity and first-seen time
// (no bucket missing, none extra, none at zero), and finding_cve_links exactly
// the findings' CVEs.
func openCountsMatch(t *testing.T, super *pgx.Conn, step string) {
	t.Helper()
	read := func(q string) []string {
		rows, err := super.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	want := read(`SELECT concat_ws('|', tenant_id, scan_target, severity, first_seen_at, count(*)) FROM findings
		WHERE status IN ('new', 'open', 'reopened') GROUP BY tenant_id, scan_target, severity, first_seen_at`)
	got := read(`SELECT concat_ws('|', tenant_id, scan_target, severity, first_seen_at, n) FROM finding_open_counts`)
	if !slices.Equal(got, want) {
		t.Errorf("%s: open counters\n%s\nwant (COUNT over findings)\n%s", step, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	want = read(`SELECT concat_ws('|', tenant_id, c, id) FROM findings, unnest(cves) c`)
	got = read(`SELECT concat_ws('|', tenant_id, cve, finding_id) FROM finding_cve_links`)
	if !slices.Equal(got, want) {
		t.Errorf("%s: finding_cve_links\n%s\nwant (findings.cves)\n%s", step, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The dashboard's open-finding counters equal a COUNT of the open findings
// after every kind of write: ingest (new and seen again), a severity raised
// by a later report, the fixed sweep of a complete scan, a reopen, triage
// both ways, a merge's delete, another tenant's writes, and a rerun.
func TestOpenFindingCountersFollowEveryWrite(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	super := ownerConn(t, d.SuperDSN)
	app := d.OpenApp(t)
	a, b := seedTenant(t, super, "counts-a"), seedTenant(t, super, "counts-b")
	const tgt = "10.0.0.1"
	mk := func(i int, sev findings.Severity) findings.Finding {
		return findings.Finding{Title: fmt.Sprintf("CVE-2024-%04d in libx", i), Severity: sev, CVEs: []string{fmt.Sprintf("CVE-2024-%04d", i)},
			Component: "libx", ComponentVersion: "1.0", Host: tgt, Target: tgt, Scanner: "trivy"}
	}
	sevs := []findings.Severity{findings.SeverityCritical, findings.SeverityHigh, findings.SeverityMedium, findings.SeverityLow, findings.SeverityInfo}
	ingest := func(tenant uuid.UUID, complete bool, fs ...findings.Finding) uuid.UUID {
		t.Helper()
		scan := seedScan(t, super, tenant)
		err := app.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
			if _, err := db.IngestFindings(ctx, tx, db.IngestBatch{TenantID: tenant, ScanID: scan, Scanner: "trivy", ScanTarget: tgt, Findings: fs}); err != nil {
				return err
			}
			if complete {
				_, err := db.Q.FindingsMarkFixed(ctx, tx, dbq.FindingsMarkFixedParams{TenantID: tenant, ScanTarget: tgt, Scanners: []string{"trivy"}, ScanID: scan})
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return scan
	}
	var first []findings.Finding
	for i := range 10 {
		first = append(first, mk(i, sevs[i%5]))
	}
	ingest(a, true, first...)
	ingest(b, true, first[:4]...)
	openCountsMatch(t, super, "first ingest")

	// Seen again (no counter change), one raised to critical, two gone (fixed),
	// one new.
	second := append([]findings.Finding{}, first[:8]...)
	second[3] = mk(3, findings.SeverityCritical)
	second = append(second, mk(20, findings.SeverityHigh))
	ingest(a, true, second...)
	openCountsMatch(t, super, "rescan: raised, fixed, new")
	var fixed int
	if err := super.QueryRow(ctx, "SELECT count(*) FROM findings WHERE tenant_id = $1 AND status = 'fixed'", a).Scan(&fixed); err != nil || fixed != 2 {
		t.Fatalf("%d fixed (%v), want 2", fixed, err)
	}

	// A fixed one comes back: reopened.
	ingest(a, false, append(second, first[8])...)
	openCountsMatch(t, super, "reopen")

	// Triage away and back, one finding and several in one statement.
	var ids []uuid.UUID
	rows, _ := super.Query(ctx, "SELECT id FROM findings WHERE tenant_id = $1 AND status IN ('new', 'open', 'reopened') ORDER BY id", a)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil || len(ids) < 5 {
		t.Fatalf("open ids %v %v", ids, err)
	}
	triage := func(status string, ids ...uuid.UUID) {
		t.Helper()
		err := app.InTx(ctx, db.TenantScope(a), func(ctx context.Context, tx pgx.Tx) error {
			for _, id := range ids {
				if _, err := db.Q.FindingSetStatus(ctx, tx, dbq.FindingSetStatusParams{ID: id, Status: status}); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, "UPDATE findings SET status = $1 WHERE id = ANY($2)", status, ids[:1])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	triage("false_positive", ids[0], ids[1])
	openCountsMatch(t, super, "triaged false positive")
	triage("accepted_risk", ids[2])
	triage("open", ids[0], ids[2])
	openCountsMatch(t, super, "triaged back to open")
	triage("fixed", ids[3])
	openCountsMatch(t, super, "fixed by hand")

	// CVEs added to one finding and taken from another (as a merge or a
	// later report does).
	err = app.InTx(ctx, db.TenantScope(a), func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE findings SET cves = cves || '{CVE-2099-0001}' WHERE id = $1", ids[0]); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE findings SET cves = '{}' WHERE id = $1", ids[4])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	openCountsMatch(t, super, "cves changed")

	// A merge keeps one finding and deletes the others.
	err = app.InTx(ctx, db.TenantScope(a), func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "DELETE FROM findings WHERE id = ANY($1)", ids[1:3])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	openCountsMatch(t, super, "merge deletes")

	// The same scan's report ingested twice, and everything of b fixed.
	s := ingest(b, false, first[:2]...)
	err = app.InTx(ctx, db.TenantScope(b), func(ctx context.Context, tx pgx.Tx) error {
		if _, err := db.IngestFindings(ctx, tx, db.IngestBatch{TenantID: b, ScanID: s, Scanner: "trivy", ScanTarget: tgt, Findings: first[:2]}); err != nil {
			return err
		}
		_, err := db.Q.FindingsMarkFixed(ctx, tx, dbq.FindingsMarkFixedParams{TenantID: b, ScanTarget: tgt, Scanners: []string{"trivy"}, ScanID: s})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	openCountsMatch(t, super, "rerun and fixed sweep of b")

	// A tenant sees only its own counters.
	err = app.InTx(ctx, db.TenantScope(b), func(ctx context.Context, tx pgx.Tx) error {
		var other int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM finding_open_counts WHERE tenant_id = $1", a).Scan(&other); err != nil {
			return err
		}
		if other != 0 {
			t.Errorf("tenant b reads %d counter rows of a", other)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
