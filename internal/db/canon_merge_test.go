package db_test

import (
	"context"
	"database/sql"
	"io/fs"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/testutil/pgtest"
	sqlfiles "github.com/secureops/secureops/sql"
)

// Findings stored before the canonical keys that are one issue are merged by
// the migration: the oldest survives with every reporter, the others' scan
// occurrences, events and triage move to it; a look-alike is only re-keyed;
// the merge runs once per version of the map and again changes nothing; the
// next ingest of either scanner lands on the survivor.
func TestMigrationMergesCanonicalDuplicates(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	sqlDB, err := sql.Open("pgx", d.OwnerDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	schema, _ := fs.Sub(sqlfiles.Migrations, "schema")
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, schema)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 25); err != nil {
		t.Fatal(err)
	}
	super := ownerConn(t, d.SuperDSN)
	tenant := seedTenant(t, super, "merge")
	const tgt = "http://app.example:8080"
	s1, s2 := uuid.New(), uuid.New()
	for _, s := range []uuid.UUID{s1, s2} {
		if _, err := super.Exec(ctx, `INSERT INTO scans (id, tenant_id, target, scanners, workflow_id) VALUES ($1, $2, $3, '{nikto,secureops}', 'w')`, s, tenant, tgt); err != nil {
			t.Fatal(err)
		}
	}
	type old struct {
		f        findings.Finding
		status   string
		age      time.Duration
		scans    []uuid.UUID
		reporter string
	}
	niktoXFO := old{f: findings.Finding{Title: "The anti-clickjacking X-Frame-Options header is not present.", Severity: findings.SeverityInfo,
		Host: "app.example", Port: 8080, URL: "http://app.example:8080/", Scanner: "nikto", Evidence: "Request: GET /"},
		status: "open", age: 48 * time.Hour, scans: []uuid.UUID{s1, s2}, reporter: "nikto"}
	nativeXFO := old{f: findings.Finding{Title: "Clickjacking protection missing", Severity: findings.SeverityMedium, Host: "app.example", Port: 8080,
		Protocol: "tcp", URL: "http://app.example:8080/", Scanner: "secureops", RuleID: "http-missing-x-frame-options", Evidence: "X-Frame-Options: (absent)"},
		status: "false_positive", age: 24 * time.Hour, scans: []uuid.UUID{s1}, reporter: "secureops"}
	otherPort := old{f: findings.Finding{Title: "Clickjacking protection missing on 8443", Severity: findings.SeverityMedium, Host: "app.example", Port: 8443,
		Protocol: "tcp", URL: "http://app.example:8443/", Scanner: "secureops", RuleID: "http-missing-x-frame-options"},
		status: "open", age: 24 * time.Hour, scans: []uuid.UUID{s1}, reporter: "secureops"}
	cve := old{f: findings.Finding{Title: "CVE-2024-0001 in libfoo", Severity: findings.SeverityHigh, CVEs: []string{"CVE-2024-0001"},
		Component: "libfoo", Target: "registry.example/app:1", Scanner: "trivy"}, status: "open", age: time.Hour, scans: []uuid.UUID{s1}, reporter: "trivy"}
	ids := map[string]uuid.UUID{}
	oldFP := func(f findings.Finding) string { // the fingerprint before canonical keys: scanner + rule + location
		return "old|" + f.Scanner + "|" + f.RuleID + "|" + f.Title + "|" + f.Location()
	}
	for _, o := range []old{niktoXFO, nativeXFO, otherPort, cve} {
		var id uuid.UUID
		if err := super.QueryRow(ctx, `INSERT INTO findings (tenant_id, fingerprint, title, severity, status, cves, host, port, protocol, url, target, scanner, rule_id,
			component, evidence, first_seen_at, last_seen_at, first_scan_id, last_scan_id, scan_target, reported_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, now() - $16::interval, now() - $16::interval, $17, $18, $19, $20) RETURNING id`,
			tenant, oldFP(o.f), o.f.Title, string(o.f.Severity), o.status, append([]string{}, o.f.CVEs...), o.f.Host, o.f.Port, o.f.Protocol, o.f.URL, o.f.Target, o.f.Scanner, o.f.RuleID,
			o.f.Component, o.f.Evidence, o.age.String(), o.scans[0], o.scans[len(o.scans)-1], tgt, o.reporter).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[o.f.Title] = id
		for _, s := range o.scans {
			if _, err := super.Exec(ctx, `INSERT INTO scan_findings (scan_id, finding_id, tenant_id, severity, change) VALUES ($1, $2, $3, $4, 'open')`,
				s, id, tenant, string(o.f.Severity)); err != nil {
				t.Fatal(err)
			}
		}
	}
	older, newer := ids[niktoXFO.f.Title], ids[nativeXFO.f.Title]
	if _, err := super.Exec(ctx, `INSERT INTO finding_events (tenant_id, finding_id, actor, from_status, to_status, comment)
		VALUES ($1, $2, 'user:x', 'open', 'false_positive', 'framed on purpose')`, tenant, newer); err != nil {
		t.Fatal(err)
	}
	// Both were triaged by the rules in s1 (the survivor's decision stays),
	// the newer one also by an analyst (which moves).
	for _, tr := range []struct {
		id     uuid.UUID
		source string
	}{{older, "rules"}, {newer, "rules"}, {newer, "analyst"}} {
		if _, err := super.Exec(ctx, `INSERT INTO finding_triage (tenant_id, finding_id, scan_id, source, decision, status) VALUES ($1, $2, $3, $4, 'valid', 'approved')`,
			tenant, tr.id, s1, tr.source); err != nil {
			t.Fatal(err)
		}
	}

	if err := db.Migrate(ctx, d.OwnerDSN, nil); err != nil {
		t.Fatal(err)
	}
	type state struct {
		findings, events, triage, occurrences int
		survivorFP, status, severity          string
		reporters                             []findings.Reporter
		s1Scanners, s2Scanners                []string
		otherFP, cveFP                        string
	}
	read := func() state {
		t.Helper()
		var st state
		var raw []byte
		if err := super.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM findings WHERE tenant_id = $1),
			(SELECT count(*) FROM finding_events WHERE finding_id = $2),
			(SELECT count(*) FROM finding_triage WHERE finding_id = $2),
			(SELECT count(*) FROM scan_findings WHERE finding_id = $2),
			f.fingerprint, f.status, f.severity, f.reporters,
			(SELECT scanners FROM scan_findings WHERE finding_id = $2 AND scan_id = $3),
			(SELECT scanners FROM scan_findings WHERE finding_id = $2 AND scan_id = $4),
			(SELECT fingerprint FROM findings WHERE id = $5),
			(SELECT fingerprint FROM findings WHERE id = $6)
			FROM findings f WHERE f.id = $2`, tenant, older, s1, s2, ids[otherPort.f.Title], ids[cve.f.Title]).Scan(
			&st.findings, &st.events, &st.triage, &st.occurrences, &st.survivorFP, &st.status, &st.severity, &raw,
			&st.s1Scanners, &st.s2Scanners, &st.otherFP, &st.cveFP); err != nil {
			t.Fatal(err)
		}
		st.reporters = findings.ParseReporters(raw)
		return st
	}
	st := read()
	canonical := func(o old) string { f := o.f; f.Fingerprint = ""; f.Normalize(); return f.Fingerprint }
	if st.findings != 3 {
		t.Errorf("%d findings, want 3 (the two clickjacking findings merged)", st.findings)
	}
	if st.survivorFP != canonical(niktoXFO) || st.survivorFP != canonical(nativeXFO) {
		t.Errorf("survivor fingerprint %s, want the canonical one", st.survivorFP)
	}
	if st.status != "open" || st.severity != "medium" {
		t.Errorf("survivor %s/%s, want the oldest's status (open) and the highest severity (medium)", st.status, st.severity)
	}
	if len(st.reporters) != 2 || st.reporters[0].Scanner != "nikto" || st.reporters[1].Scanner != "secureops" ||
		st.reporters[1].RuleID != "http-missing-x-frame-options" || st.reporters[1].Title != nativeXFO.f.Title {
		t.Errorf("reporters %+v, want nikto and secureops with their own rule and title", st.reporters)
	}
	if st.events != 1 || st.triage != 2 || st.occurrences != 2 {
		t.Errorf("survivor has %d events, %d triage rows, %d occurrences; want 1, 2 (its rules decision + the analyst's), 2", st.events, st.triage, st.occurrences)
	}
	if len(st.s1Scanners) != 2 || len(st.s2Scanners) != 1 || st.s2Scanners[0] != "nikto" {
		t.Errorf("occurrence scanners s1 %v, s2 %v; want both, nikto", st.s1Scanners, st.s2Scanners)
	}
	if st.otherFP != canonical(otherPort) || st.otherFP == st.survivorFP {
		t.Errorf("the other port's finding: %s, want re-keyed on its own", st.otherFP)
	}
	if st.cveFP != oldFP(cve.f) {
		t.Errorf("a CVE finding was re-keyed: %s", st.cveFP)
	}

	// Idempotent: forced to run again, it finds nothing to do.
	conn := ownerConn(t, d.OwnerDSN)
	if _, err := super.Exec(ctx, "DELETE FROM finding_canon_versions"); err != nil {
		t.Fatal(err)
	}
	if n, err := db.MergeCanonical(ctx, conn); err != nil || n != 0 {
		t.Errorf("second merge: %d, %v", n, err)
	}
	if err := db.Migrate(ctx, d.OwnerDSN, nil); err != nil {
		t.Fatal(err)
	}
	again := read()
	if again.findings != st.findings || again.survivorFP != st.survivorFP || again.events != st.events || again.triage != st.triage ||
		again.occurrences != st.occurrences || len(again.reporters) != len(st.reporters) {
		t.Errorf("a second run changed the findings: %+v, was %+v", again, st)
	}

	// The native checks' next report lands on the survivor.
	app := d.OpenApp(t)
	s3 := seedScan(t, super, tenant)
	native := nativeXFO.f
	native.Fingerprint = ""
	err = app.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.IngestFindings(ctx, tx, db.IngestBatch{TenantID: tenant, ScanID: s3, Scanner: "secureops", ScanTarget: tgt, Findings: []findings.Finding{native}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if after := read(); after.findings != 3 || after.occurrences != 3 {
		t.Errorf("after a new native report: %d findings, survivor in %d scans; want 3, 3", after.findings, after.occurrences)
	}
}
