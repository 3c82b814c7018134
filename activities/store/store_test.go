package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/activities/store"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/contract/schedule"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type env struct {
	t      *testing.T
	super  *pgx.Conn
	app    *db.DB
	acts   *store.Activities
	tenant uuid.UUID
}

func newEnv(t *testing.T) *env {
	ctx := context.Background()
	d := pgtest.New(t)
	super, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(ctx) })
	e := &env{t: t, super: super, app: d.OpenApp(t)}
	e.acts = &store.Activities{DB: e.app, ScanLimits: map[string]int{"basic": 2, "pro": 10}}
	if err := super.QueryRow(ctx, "INSERT INTO tenants (slug, name, status) VALUES ('acme', 'Acme', 'active') RETURNING id").Scan(&e.tenant); err != nil {
		t.Fatal(err)
	}
	return e
}

// scan runs one scan of target by nmap reporting the given ports, the way
// the workflow does: mark running, store the report's findings, finish.
func (e *env) scan(target string, complete bool, status string, ports ...int) scan.Counts {
	e.t.Helper()
	ctx := context.Background()
	id := uuid.New()
	if _, err := e.super.Exec(ctx, `INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, complete)
		VALUES ($1, $2, $3, '{nmap}', $4, $5)`, id, e.tenant, target, "scan/"+id.String(), complete); err != nil {
		e.t.Fatal(err)
	}
	ref := scan.Ref{TenantID: e.tenant, ScanID: id}
	if err := e.acts.ScanMarkRunning(ctx, ref); err != nil {
		e.t.Fatal(err)
	}
	var fs []findings.Finding
	for _, p := range ports {
		fs = append(fs, findings.Finding{Title: "open port", Severity: findings.SeverityLow, Host: "127.0.0.1", Port: p, Protocol: "tcp", Scanner: "nmap", RuleID: "open-port"})
	}
	err := e.app.InTx(ctx, db.TenantScope(e.tenant), func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.IngestFindings(ctx, tx, db.IngestBatch{TenantID: e.tenant, ScanID: id, Scanner: "nmap", ScanTarget: target, Findings: fs})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := e.acts.ScanFinish(ctx, scan.FinishInput{TenantID: e.tenant, ScanID: id, Status: status})
	if err != nil {
		e.t.Fatal(err)
	}
	// A retried finish changes nothing.
	c2, err := e.acts.ScanFinish(ctx, scan.FinishInput{TenantID: e.tenant, ScanID: id, Status: status})
	if err != nil {
		e.t.Fatal(err)
	}
	if c2 != c {
		e.t.Errorf("retried finish returned %+v, first %+v", c2, c)
	}
	return c
}

func (e *env) statuses(target string) map[int]string {
	e.t.Helper()
	rows, err := e.super.Query(context.Background(), "SELECT port, status FROM findings WHERE scan_target = $1", target)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[int]string{}
	for rows.Next() {
		var p int
		var s string
		if err := rows.Scan(&p, &s); err != nil {
			e.t.Fatal(err)
		}
		out[p] = s
	}
	return out
}

func wantStatuses(t *testing.T, got map[int]string, want map[int]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	for p, s := range want {
		if got[p] != s {
			t.Errorf("port %d: status %q, want %q (all: %v)", p, got[p], s, got)
		}
	}
}

// Three scans of one target walk every transition: new → open → fixed →
// reopened, and each scan records its diff.
func TestFindingLifecycleAcrossThreeScans(t *testing.T) {
	e := newEnv(t)
	const tgt = "127.0.0.1"

	c1 := e.scan(tgt, true, "completed", 22, 80, 443)
	if c1.Diff != (scan.Diff{New: 3}) || c1.Low != 3 {
		t.Errorf("scan 1 counts %+v, want 3 new", c1)
	}
	wantStatuses(t, e.statuses(tgt), map[int]string{22: "new", 80: "new", 443: "new"})

	c2 := e.scan(tgt, true, "completed", 22, 80)
	if c2.Diff != (scan.Diff{Open: 2, Fixed: 1}) || c2.Low != 2 {
		t.Errorf("scan 2 counts %+v, want 2 still open and 1 fixed", c2)
	}
	wantStatuses(t, e.statuses(tgt), map[int]string{22: "open", 80: "open", 443: "fixed"})

	c3 := e.scan(tgt, true, "completed", 22, 443)
	if c3.Diff != (scan.Diff{Open: 1, Fixed: 1, Reopened: 1}) {
		t.Errorf("scan 3 diff %+v, want 1 open, 1 fixed, 1 reopened", c3.Diff)
	}
	wantStatuses(t, e.statuses(tgt), map[int]string{22: "open", 80: "fixed", 443: "reopened"})

	// Seen again, a reopened finding is simply open.
	e.scan(tgt, true, "completed", 22, 443)
	wantStatuses(t, e.statuses(tgt), map[int]string{22: "open", 80: "fixed", 443: "open"})
}

// Only a complete, completed scan of the same target says what is gone.
func TestFixedNeedsACompleteScanOfTheSameTarget(t *testing.T) {
	e := newEnv(t)
	const tgt = "127.0.0.1:8080"
	e.scan(tgt, true, "completed", 22, 80)

	if c := e.scan(tgt, false, "completed", 22); c.Diff.Fixed != 0 {
		t.Errorf("a partial (incomplete) scan fixed %d findings", c.Diff.Fixed)
	}
	if c := e.scan(tgt, true, "failed"); c.Diff.Fixed != 0 {
		t.Errorf("a failed scan fixed %d findings", c.Diff.Fixed)
	}
	if c := e.scan("localhost", true, "completed"); c.Diff.Fixed != 0 {
		t.Errorf("a scan of another target fixed %d findings", c.Diff.Fixed)
	}
	wantStatuses(t, e.statuses(tgt), map[int]string{22: "open", 80: "new"})

	// Triage outlives scans: a false positive absent from a complete scan
	// stays a false positive instead of becoming "fixed".
	if _, err := e.super.Exec(context.Background(), "UPDATE findings SET status = 'false_positive' WHERE scan_target = $1 AND port = 80", tgt); err != nil {
		t.Fatal(err)
	}
	if c := e.scan(tgt, true, "completed", 22); c.Diff.Fixed != 0 {
		t.Errorf("complete scan fixed %d, want 0 (the absent finding is a false positive)", c.Diff.Fixed)
	}
	wantStatuses(t, e.statuses(tgt), map[int]string{22: "open", 80: "false_positive"})
}

func TestScanAuthorizeNeedsAVerifiedTarget(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mk := func(value, status string) uuid.UUID {
		var id uuid.UUID
		if err := e.super.QueryRow(ctx, `INSERT INTO targets (tenant_id, kind, value, host, verification_token, verification_status)
			VALUES ($1, 'domain', $2, $2, 'tok', $3) RETURNING id`, e.tenant, value, status).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	scanOf := func(target string, tid *uuid.UUID) uuid.UUID {
		id := uuid.New()
		if _, err := e.super.Exec(ctx, `INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, target_id)
			VALUES ($1, $2, $3, '{nmap}', 'scan/x', $4)`, id, e.tenant, target, tid); err != nil {
			t.Fatal(err)
		}
		return id
	}
	ok := mk("ok.example.com", "verified")
	pending := mk("pending.example.com", "pending")
	cases := []struct {
		name string
		scan uuid.UUID
		ok   bool
	}{
		{"verified", scanOf("ok.example.com", &ok), true},
		{"pending", scanOf("pending.example.com", &pending), false},
		{"unregistered", scanOf("other.example.com", nil), false},
	}
	for _, c := range cases {
		res, err := e.acts.ScanAuthorize(ctx, scan.Ref{TenantID: e.tenant, ScanID: c.scan})
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
		if err == nil && (res.Tier != "basic" || res.Limit != 2 || res.RequestedAt.IsZero()) {
			t.Errorf("%s: authorize result %+v, want the basic tier's limit 2 and the request time", c.name, res)
		}
	}
}

// A scheduled run records one scan however often it is retried, and a
// tenant that may not scan gets none (the failed run pauses the schedule).
func TestScheduledScanCreate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var target, scheduleID uuid.UUID
	if err := e.super.QueryRow(ctx, `INSERT INTO targets (tenant_id, kind, value, host, verification_token, verification_status)
		VALUES ($1, 'host', '127.0.0.1:8080', '127.0.0.1', 'tok', 'verified') RETURNING id`, e.tenant).Scan(&target); err != nil {
		t.Fatal(err)
	}
	if err := e.super.QueryRow(ctx, `INSERT INTO scan_schedules (tenant_id, target_id, scanners, interval_seconds)
		VALUES ($1, $2, '{nmap}', 3600) RETURNING id`, e.tenant, target).Scan(&scheduleID); err != nil {
		t.Fatal(err)
	}
	in := schedule.ScanInput{TenantID: e.tenant, ScheduleID: scheduleID, RunKey: "scheduled-scan/x-2026-11-23T10:00:00Z"}
	a, err := e.acts.ScheduledScanCreate(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.acts.ScheduledScanCreate(ctx, in)
	if err != nil || b.ScanID != a.ScanID || a.Target != "127.0.0.1:8080" {
		t.Fatalf("retried run: %+v then %+v (%v)", a, b, err)
	}
	if _, err := e.super.Exec(ctx, "UPDATE tenants SET status = 'suspended' WHERE id = $1", e.tenant); err != nil {
		t.Fatal(err)
	}
	in.RunKey = "scheduled-scan/x-2026-11-23T11:00:00Z"
	var app *temporal.ApplicationError
	if _, err := e.acts.ScheduledScanCreate(ctx, in); !errors.As(err, &app) || !app.NonRetryable() || app.Type() != schedule.ErrScheduleGone {
		t.Fatalf("run of a suspended tenant: %v, want non-retryable %s", err, schedule.ErrScheduleGone)
	}
	var n int
	if err := e.super.QueryRow(ctx, "SELECT count(*) FROM scans WHERE schedule_id = $1", scheduleID).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d scans of the schedule, want 1 (%v)", n, err)
	}
}

// A finished scan tells the tenant's SLA timers that deadlines changed (once
// per finish, retries included); a failure to tell them does not fail the
// finish.
func TestScanFinishWakesSLATimers(t *testing.T) {
	e := newEnv(t)
	var told []uuid.UUID
	e.acts.DeadlinesChanged = func(_ context.Context, tenant uuid.UUID) error {
		told = append(told, tenant)
		return errors.New("temporal unavailable")
	}
	e.scan("sla.example.com", true, "completed", 22)
	if len(told) == 0 || told[0] != e.tenant {
		t.Fatalf("told %v, want the tenant", told)
	}
}
