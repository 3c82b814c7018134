package db_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func ownerConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// A table added later with a tenant_id column but without forced RLS fails here.
func TestEveryTenantTableHasForcedRLS(t *testing.T) {
	d := pgtest.New(t)
	c := ownerConn(t, d.SuperDSN)
	rows, err := c.Query(context.Background(), `
		SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
		       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
		  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name string
		var enabled, forced bool
		var policies int
		if err := rows.Scan(&name, &enabled, &forced, &policies); err != nil {
			t.Fatal(err)
		}
		n++
		if !enabled || !forced || policies == 0 {
			t.Errorf("table %s: rls enabled=%v forced=%v policies=%d; want enabled, forced and a policy", name, enabled, forced, policies)
		}
	}
	if n < 4 {
		t.Fatalf("found %d tenant tables; the query is broken", n)
	}
}

func TestAppRoleCannotBypassRLS(t *testing.T) {
	d := pgtest.New(t)
	c := ownerConn(t, d.SuperDSN)
	var super, bypass bool
	if err := c.QueryRow(context.Background(), "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'secureops_app'").Scan(&super, &bypass); err != nil {
		t.Fatal(err)
	}
	if super || bypass {
		t.Fatalf("secureops_app: superuser=%v bypassrls=%v", super, bypass)
	}
}

func seedTenant(t *testing.T, c *pgx.Conn, slug string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := c.QueryRow(context.Background(), "INSERT INTO tenants (slug, name, status) VALUES ($1, $1, 'active') RETURNING id", slug).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func seedScan(t *testing.T, c *pgx.Conn, tenant uuid.UUID) uuid.UUID { return seedScanTB(t, c, tenant) }

func seedScanTB(t testing.TB, c *pgx.Conn, tenant uuid.UUID) uuid.UUID {
	t.Helper()
	id := uuid.New()
	if _, err := c.Exec(context.Background(),
		"INSERT INTO scans (id, tenant_id, target, scanners, workflow_id) VALUES ($1, $2, '127.0.0.1', '{nmap}', $3)", id, tenant, "scan/"+id.String()); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestTenantScopeIsolation(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	owner := ownerConn(t, d.SuperDSN)
	a, b := seedTenant(t, owner, "tenant-a"), seedTenant(t, owner, "tenant-b")
	scanA, scanB := seedScan(t, owner, a), seedScan(t, owner, b)
	app := d.OpenApp(t)

	// No scope at all: the helper refuses.
	if err := app.InTx(ctx, db.Scope{}, func(context.Context, pgx.Tx) error { return nil }); !errors.Is(err, db.ErrNoScope) {
		t.Fatalf("InTx without scope: %v, want ErrNoScope", err)
	}
	// A raw app-role connection that never set a scope sees nothing at all,
	// in every table that has a tenant_id (listed from the catalog, so a new
	// table is covered without editing this test).
	super := ownerConn(t, d.SuperDSN)
	if _, err := super.Exec(ctx, "INSERT INTO audit_log (tenant_id, action) VALUES ($1, 'seed'), ($2, 'seed')", a, b); err != nil {
		t.Fatal(err)
	}
	var tables []string
	rows, err := super.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r'
		  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) < 8 {
		t.Fatalf("only %d tenant tables found", len(tables))
	}
	raw := ownerConn(t, d.AppDSN)
	for _, table := range tables {
		var n int
		if err := raw.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("unscoped app connection sees %d rows of %s", n, table)
		}
	}
	// Scoped to A, no table shows a row of another tenant.
	err = app.InTx(ctx, db.TenantScope(a), func(ctx context.Context, tx pgx.Tx) error {
		for _, table := range tables {
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE tenant_id <> $1", a).Scan(&n); err != nil {
				return err
			}
			if n != 0 {
				t.Errorf("scope A sees %d foreign rows of %s", n, table)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Scoped to A: A's scan, never B's, even with a query lacking WHERE.
	err = app.InTx(ctx, db.TenantScope(a), func(ctx context.Context, tx pgx.Tx) error {
		if _, err := db.Q.ScanGet(ctx, tx, scanA); err != nil {
			t.Errorf("own scan: %v", err)
		}
		if _, err := db.Q.ScanGet(ctx, tx, scanB); !errors.Is(err, pgx.ErrNoRows) {
			t.Errorf("foreign scan: err=%v, want no rows", err)
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM scans").Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			t.Errorf("scope A sees %d scans, want 1", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Writing a row for B from A's scope is refused by WITH CHECK.
	err = app.InTx(ctx, db.TenantScope(a), func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.Q.ScanCreate(ctx, tx, dbq.ScanCreateParams{ID: uuid.New(), TenantID: b, Target: "x.example", Scanners: []string{"nmap"}, WorkflowID: "w", Source: "scan", Complete: true})
		return err
	})
	if err == nil {
		t.Error("inserting a scan for tenant B from A's scope succeeded")
	}
	// The scope ends with the transaction: the pooled connection forgets it.
	err = app.InTx(ctx, db.TenantScope(b), func(ctx context.Context, tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM scans WHERE tenant_id = $1", a).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("scope B sees %d of A's scans", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func batch() []findings.Finding {
	return []findings.Finding{
		{Title: "Open port 22/tcp: ssh", Severity: findings.SeverityInfo, Host: "127.0.0.1", Port: 22, Protocol: "tcp", Scanner: "nmap", RuleID: "open-port", Component: "OpenSSH", ComponentVersion: "9.2"},
		{Title: "Open port 80/tcp: http", Severity: findings.SeverityInfo, Host: "127.0.0.1", Port: 80, Protocol: "tcp", Scanner: "nmap", RuleID: "open-port"},
		// Same fingerprint as the first, worse severity: one finding, worst severity kept.
		{Title: "Open port 22/tcp: ssh", Severity: findings.SeverityHigh, Host: "127.0.0.1", Port: 22, Protocol: "tcp", Scanner: "nmap", RuleID: "open-port", Component: "OpenSSH", ComponentVersion: "9.2"},
		{Title: "CVE in OpenSSH", Severity: findings.SeverityCritical, CVEs: []string{"cve-2024-6387"}, Host: "127.0.0.1", Port: 22, Protocol: "tcp", Scanner: "nmap", Component: "OpenSSH", Evidence: "bad\x00byte \xff"},
	}
}

// ingestAs stores one scanner's batch for a scan of target 127.0.0.1, as the
// tenant, the way the store activity does.
func ingestAs(t *testing.T, app *db.DB, tenant, scan uuid.UUID, scanner string, fs []findings.Finding) db.IngestResult {
	t.Helper()
	var res db.IngestResult
	err := app.InTx(context.Background(), db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		res, err = db.IngestFindings(ctx, tx, db.IngestBatch{TenantID: tenant, ScanID: scan, Scanner: scanner, ScanTarget: "127.0.0.1", Findings: fs})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestIngestDedupIdempotentAndStatus(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	owner := ownerConn(t, d.SuperDSN)
	tid := seedTenant(t, owner, "acme")
	scan1, scan2 := seedScan(t, owner, tid), seedScan(t, owner, tid)
	app := d.OpenApp(t)
	ingest := func(scan uuid.UUID) db.IngestResult { return ingestAs(t, app, tid, scan, "nmap", batch()) }
	r1 := ingest(scan1)
	if r1.Staged != 4 || r1.Upserted != 3 || r1.Linked != 3 {
		t.Fatalf("first ingest %+v, want staged 4 upserted 3 linked 3", r1)
	}
	if r := ingest(scan1); r.Upserted != 0 || r.Linked != 3 { // a retried activity
		t.Errorf("unchanged re-ingest %+v, want nothing upserted and 3 linked", r)
	}
	statuses := map[string]string{}
	err := app.InTx(ctx, db.TenantScope(tid), func(ctx context.Context, tx pgx.Tx) error {
		fs, err := db.Q.FindingListByScan(ctx, tx, dbq.FindingListByScanParams{ScanID: scan1, Lim: 100})
		if err != nil {
			return err
		}
		if len(fs) != 3 {
			t.Errorf("scan 1 has %d findings after retry, want 3", len(fs))
		}
		for _, row := range fs {
			f := row.Finding
			statuses[f.Title] = f.Status
			if f.Title == "Open port 22/tcp: ssh" && f.Severity != "high" {
				t.Errorf("duplicate kept severity %s, want the worst (high)", f.Severity)
			}
		}
		c, err := db.Q.ScanCountsRefresh(ctx, tx, dbq.ScanCountsRefreshParams{ID: scan1, RunID: ""})
		if err != nil {
			return err
		}
		if c.CountCritical != 1 || c.CountHigh != 1 || c.CountInfo != 1 {
			t.Errorf("counts %+v", c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for title, s := range statuses {
		if s != "new" {
			t.Errorf("%s: status %s after one scan (and a retry), want new", title, s)
		}
	}
	ingest(scan2)
	var open int
	if err := owner.QueryRow(ctx, "SELECT count(*) FROM findings WHERE tenant_id = $1 AND status = 'open'", tid).Scan(&open); err != nil {
		t.Fatal(err)
	}
	if open != 3 {
		t.Errorf("%d findings open after a second scan, want 3", open)
	}
	var total int
	if err := owner.QueryRow(ctx, "SELECT count(*) FROM findings WHERE tenant_id = $1", tid).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != 3 {
		t.Errorf("%d findings after two scans of the same issues, want 3", total)
	}
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	d := pgtest.New(t)
	if err := db.Migrate(context.Background(), d.OwnerDSN, nil); err != nil {
		t.Fatal(err)
	}
}

// The audit log is append-only for the application role.
func TestAuditLogAppendOnly(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	owner := ownerConn(t, d.SuperDSN)
	a := seedTenant(t, owner, "audited")
	app := d.OpenApp(t)
	err := app.InTx(ctx, db.TenantScope(a), func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.AuditInsert(ctx, tx, dbq.AuditInsertParams{TenantID: a, Action: "test.action", Details: []byte("{}")})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"} {
		err := app.InTx(ctx, db.TenantScope(a), func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, stmt)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s as secureops_app: %v, want permission denied", stmt, err)
		}
	}
	var n int
	if err := owner.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE action = 'test.action'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("audit rows %d %v", n, err)
	}
}

// Auth helpers see through RLS for exactly their question, and leave no
// admin flag behind in the caller's transaction.
func TestAuthFunctionsDoNotLeakAdminFlag(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	owner := ownerConn(t, d.SuperDSN)
	a := seedTenant(t, owner, "root-co")
	if _, err := owner.Exec(ctx, "INSERT INTO tenants (slug, name, parent_id) VALUES ('child-co', 'c', $1)", a); err != nil {
		t.Fatal(err)
	}
	app := d.OpenApp(t)
	err := app.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		ids, err := db.Q.AuthTenantSubtree(ctx, tx, a)
		if err != nil {
			return err
		}
		if len(ids) != 2 {
			t.Errorf("subtree %v, want the tenant and its child", ids)
		}
		var flag string
		if err := tx.QueryRow(ctx, "SELECT COALESCE(current_setting('secureops.platform_admin', true), '')").Scan(&flag); err != nil {
			return err
		}
		if flag == "on" {
			t.Error("admin flag leaked into the caller's transaction")
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM tenants").Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("after the auth helper, an unscoped query sees %d tenants", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A scan belongs to the Temporal run that last took it over: a retry of the
// same run changes nothing, a reset (new run) takes over even a finished scan,
// and the old run's late writes are ignored.
func TestScanRunOwnership(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	owner := ownerConn(t, d.SuperDSN)
	ten := seedTenant(t, owner, "runs")
	scan := seedScan(t, owner, ten)
	app := d.OpenApp(t)
	in := func(fn func(ctx context.Context, tx pgx.Tx) error) {
		t.Helper()
		if err := app.InTx(ctx, db.TenantScope(ten), fn); err != nil {
			t.Fatal(err)
		}
	}
	status := func() (s string, runID string) {
		t.Helper()
		if err := owner.QueryRow(ctx, "SELECT status, run_id FROM scans WHERE id = $1", scan).Scan(&s, &runID); err != nil {
			t.Fatal(err)
		}
		return
	}
	finish := func(run, st string) int64 {
		var n int64
		in(func(ctx context.Context, tx pgx.Tx) error {
			var err error
			n, err = db.Q.ScanFinish(ctx, tx, dbq.ScanFinishParams{ID: scan, Status: st, RunID: run})
			return err
		})
		return n
	}
	mark := func(run string) error {
		return app.InTx(ctx, db.TenantScope(ten), func(ctx context.Context, tx pgx.Tx) error {
			_, err := db.Q.ScanMarkRunning(ctx, tx, dbq.ScanMarkRunningParams{ID: scan, RunID: run})
			return err
		})
	}
	if err := mark("run-1"); err != nil {
		t.Fatal(err)
	}
	if err := mark("run-1"); err != nil { // retried activity
		t.Fatal(err)
	}
	if n := finish("run-1", "failed"); n != 1 {
		t.Fatalf("run-1 finish updated %d rows", n)
	}
	if err := mark("run-1"); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("run-1 restarting its finished scan: %v, want no rows", err)
	}
	// Reset from the Web UI: run-2 takes the failed scan over.
	if err := mark("run-2"); err != nil {
		t.Fatal(err)
	}
	if s, r := status(); s != "running" || r != "run-2" {
		t.Fatalf("after reset: %s %s", s, r)
	}
	if n := finish("run-1", "cancelled"); n != 0 { // a late write of the old run
		t.Fatalf("old run's finish updated %d rows", n)
	}
	if n := finish("run-2", "completed"); n != 1 {
		t.Fatalf("run-2 finish updated %d rows", n)
	}
	if s, _ := status(); s != "completed" {
		t.Fatalf("final status %s", s)
	}
	if n := finish("run-2", "failed"); n != 0 { // terminal states are final
		t.Fatalf("second finish updated %d rows", n)
	}
}

// Nothing a tenant-scoped transaction can run makes anyone a platform admin
// or changes a tenant's status, tier or parent.
func TestNoEscalationThroughUsersOrTenants(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	super := ownerConn(t, d.SuperDSN)
	a := seedTenant(t, super, "esc")
	u := uuid.New()
	if _, err := super.Exec(ctx, "INSERT INTO users (id, email) VALUES ($1, 'u@esc.test')", u); err != nil {
		t.Fatal(err)
	}
	if _, err := super.Exec(ctx, "INSERT INTO memberships (user_id, tenant_id, role) VALUES ($1, $2, 'client_admin')", u, a); err != nil {
		t.Fatal(err)
	}
	app := d.OpenApp(t)
	scope := db.Scope{TenantIDs: []uuid.UUID{a}, UserID: u}
	attempts := []string{
		"UPDATE users SET is_platform_admin = true",
		"UPDATE users SET email = 'evil@x.test'",
		"INSERT INTO users (id, email, is_platform_admin) VALUES (gen_random_uuid(), 'root@x.test', true)",
		"UPDATE tenants SET status = 'active', tier = 'enterprise', parent_id = NULL",
		"UPDATE impersonations SET ended_at = NULL",
	}
	for _, stmt := range attempts {
		err := app.InTx(ctx, scope, func(ctx context.Context, tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, stmt)
			if err == nil && tag.RowsAffected() > 0 {
				t.Errorf("%q changed %d rows", stmt, tag.RowsAffected())
			}
			return err
		})
		_ = err // refused (permission or policy) or no row affected: both are fine
	}
	var admin bool
	if err := super.QueryRow(ctx, "SELECT bool_or(is_platform_admin) FROM users").Scan(&admin); err != nil || admin {
		t.Fatalf("someone became platform admin: %v %v", admin, err)
	}
}

// A re-run of a scan replaces what its scanner reported for it: issues the
// re-run no longer sees leave the scan, and another scanner's occurrences in
// the same scan stay, whichever of them runs first.
func TestIngestRerunReplacesOnlyItsScanner(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	owner := ownerConn(t, d.SuperDSN)
	tid := seedTenant(t, owner, "rerun")
	scan := seedScan(t, owner, tid)
	app := d.OpenApp(t)
	ingest := func(scanner string, fs []findings.Finding) db.IngestResult {
		return ingestAs(t, app, tid, scan, scanner, fs)
	}
	linked := func() map[string]int {
		rows, err := owner.Query(ctx, `SELECT f.reported_by, count(*) FROM scan_findings sf JOIN findings f ON f.id = sf.finding_id
			WHERE sf.scan_id = $1 GROUP BY 1`, scan)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[string]int{}
		for rows.Next() {
			var scanner string
			var n int
			if err := rows.Scan(&scanner, &n); err != nil {
				t.Fatal(err)
			}
			m[scanner] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	nikto := []findings.Finding{
		{Title: "Missing X-Frame-Options", Severity: findings.SeverityLow, Host: "127.0.0.1", Port: 80, Scanner: "nikto", RuleID: "999957", URL: "http://127.0.0.1/"},
	}
	ingest("nikto", nikto)
	if r := ingest("nmap", batch()); r.Linked != 3 {
		t.Fatalf("nmap's first attempt linked %d, want 3", r.Linked)
	}
	if got := linked(); got["nmap"] != 3 || got["nikto"] != 1 {
		t.Fatalf("after both scanners: %v, want nmap 3, nikto 1", got)
	}
	// The re-run sees only the open ports, not the CVE.
	if r := ingest("nmap", batch()[:2]); r.Linked != 2 {
		t.Errorf("re-run linked %d, want 2", r.Linked)
	}
	if got := linked(); got["nmap"] != 2 || got["nikto"] != 1 {
		t.Errorf("after nmap's re-run: %v, want nmap 2, nikto 1", got)
	}
}

// Re-runs alternate between the full report and a part of it: each must
// leave exactly its own findings linked, whether it can skip the prune (same
// fingerprints as the last attempt) or not.
func TestIngestRerunsAlternating(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	owner := ownerConn(t, d.SuperDSN)
	tid := seedTenant(t, owner, "alternate")
	scan := seedScan(t, owner, tid)
	app := d.OpenApp(t)
	full, part := batch(), batch()[:2]
	for i, fs := range [][]findings.Finding{full, full, part, part, full, part, full} {
		ingestAs(t, app, tid, scan, "nmap", fs)
		want := 3
		if len(fs) == 2 {
			want = 2
		}
		var linked int
		if err := owner.QueryRow(ctx, "SELECT count(*) FROM scan_findings WHERE scan_id = $1", scan).Scan(&linked); err != nil {
			t.Fatal(err)
		}
		if linked != want {
			t.Errorf("attempt %d (%d findings): %d linked, want %d", i+1, len(fs), linked, want)
		}
	}
}
