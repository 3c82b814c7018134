package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/api"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// sessionDo calls the API with a Kratos session and decodes the JSON answer
// into out (when not nil and the call succeeded).
func (p *platform) sessionDo(t *testing.T, session, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, p.api.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Session-Token", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%s %s: status %d with content type %q, want problem JSON", method, path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if out != nil && resp.StatusCode < 300 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

// seed runs SQL as the application in one tenant's scope.
func (p *platform) seed(t *testing.T, tenant uuid.UUID, fn func(ctx context.Context, tx pgx.Tx) error) {
	t.Helper()
	if err := p.db.InTx(context.Background(), db.TenantScope(tenant), fn); err != nil {
		t.Fatal(err)
	}
}

func execAll(ctx context.Context, tx pgx.Tx, stmts [][]any) error {
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s[0].(string), s[1:]...); err != nil {
			return fmt.Errorf("%s: %w", s[0], err)
		}
	}
	return nil
}

const (
	seedFinding = `INSERT INTO findings (tenant_id, fingerprint, title, severity, status, scanner, scan_target, first_seen_at, fixed_at)
		VALUES ($1, gen_random_uuid()::text, 'seeded', $2, $3, 'nmap', $4, $5, $6)`
	seedOpen = `INSERT INTO findings (tenant_id, fingerprint, title, severity, status, scanner, scan_target, first_seen_at)
		VALUES ($1, gen_random_uuid()::text, 'seeded', $2, $3, 'nmap', $4, now() - make_interval(days => $5))`
	seedScan = `INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, status, source, created_at, started_at, finished_at, diff_new, diff_reopened)
		VALUES (gen_random_uuid(), $1, 't', '{nmap}', 'scan/seed', $2, $3, $4, $4, $5, $6, $7)`
	seedUsage = `INSERT INTO usage_events (tenant_id, scan_id, source, scanners, target, started_at, finished_at, duration_ms, status, findings, created_at)
		VALUES ($1, gen_random_uuid(), $2, '{nmap}', 't', $3, $3, $4, 'completed', 0, $3)`
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestDashboard seeds a tenant, its sub-tenant and a sibling directly in the
// database and checks every number the dashboard and the usage listing
// report, the SLA override, and the refusals.
func TestDashboard(t *testing.T) {
	kr := startKratos(t)
	p := startWith(t, options{kratos: kr, noWorkers: true})
	ctx := context.Background()
	var acme dbq.Tenant
	p.seed(t, p.tenant, func(ctx context.Context, tx pgx.Tx) (err error) {
		acme, err = db.Q.TenantGet(ctx, tx, p.tenant)
		return err
	})
	child, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: "Acme Labs", ParentSlug: acme.Slug, Tier: "basic"})
	if err != nil {
		t.Fatal(err)
	}
	sibling, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: "Other Corp", Tier: "enterprise"})
	if err != nil {
		t.Fatal(err)
	}
	ident, err := kr.EnsureIdentity(ctx, "owner@acme.example.test", "Owner", "correct-horse-owner", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.seed(t, p.tenant, func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: ident.ID, Email: "owner@acme.example.test", Name: "Owner"}); err != nil {
			return err
		}
		_, err := db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: ident.ID, TenantID: p.tenant, Role: "client_owner"})
		return err
	})
	owner := login(t, kr, "owner@acme.example.test", "correct-horse-owner")

	var appTarget uuid.UUID
	p.seed(t, p.tenant, func(ctx context.Context, tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO targets (tenant_id, kind, value, host, verification_token)
			VALUES ($1, 'domain', 'app.example.com', 'app.example.com', 'tok') RETURNING id`, p.tenant).Scan(&appTarget); err != nil {
			return err
		}
		a := p.tenant
		return execAll(ctx, tx, [][]any{
			// Open findings (first seen N days ago).
			{seedOpen, a, "critical", "new", "app.example.com", 5},
			{seedOpen, a, "critical", "open", "app.example.com", 1},
			{seedOpen, a, "high", "open", "app.example.com", 40},
			{seedOpen, a, "high", "reopened", "app.example.com", 2},
			{seedOpen, a, "medium", "open", "app.example.com", 10},
			{seedOpen, a, "info", "new", "app.example.com", 200},
			{seedOpen, a, "high", "new", "api.example.com", 1},
			{seedOpen, a, "high", "new", "api.example.com", 1},
			{seedOpen, a, "medium", "new", "api.example.com", 1},
			{seedOpen, a, "low", "open", "api.example.com", 130},
			{seedOpen, a, "low", "new", "t4.example.com", 1},
			{seedOpen, a, "low", "new", "t3.example.com", 1},
			{seedOpen, a, "low", "new", "t2.example.com", 1},
			{seedOpen, a, "low", "new", "t1.example.com", 1},
			// Triaged away: not open.
			{seedOpen, a, "critical", "accepted_risk", "ignored.example.com", 50},
			{seedOpen, a, "high", "false_positive", "ignored.example.com", 50},
			// Fixed: in the period (2025-03-01 .. 2025-03-10) and just after it.
			{seedFinding, a, "high", "fixed", "app.example.com", ts("2025-03-01T00:00:00Z"), ts("2025-03-02T00:00:00Z")},
			{seedFinding, a, "high", "fixed", "app.example.com", ts("2025-02-20T00:00:00Z"), ts("2025-03-02T12:00:00Z")},
			{seedFinding, a, "low", "fixed", "app.example.com", ts("2025-03-01T00:00:00Z"), ts("2025-03-11T00:00:00Z")},
			// Scans: new/reopened count on the day they finished; scans run count on the day requested.
			{seedScan, a, "completed", "scan", ts("2025-03-01T10:00:00Z"), ts("2025-03-01T10:30:00Z"), 5, 0},
			{seedScan, a, "completed", "import", ts("2025-03-03T23:50:00Z"), ts("2025-03-04T00:10:00Z"), 2, 1},
			{seedScan, a, "cancelled", "scan", ts("2025-02-28T23:00:00Z"), ts("2025-03-01T00:30:00Z"), 3, 0},
			{`INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, status) VALUES (gen_random_uuid(), $1, 't', '{nmap}', 'w', 'running')`, a},
			{`INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, status) VALUES (gen_random_uuid(), $1, 't', '{nmap}', 'w', 'queued')`, a},
			// Usage, by the day recorded.
			{seedUsage, a, "scan", ts("2025-03-01T10:30:00Z"), 1800000},
			{seedUsage, a, "import", ts("2025-03-04T00:10:00Z"), 1200000},
			{seedUsage, a, "scan", ts("2025-03-11T00:00:00Z"), 999000},
		})
	})
	p.seed(t, child.ID, func(ctx context.Context, tx pgx.Tx) error {
		c := child.ID
		return execAll(ctx, tx, [][]any{
			{seedOpen, c, "critical", "open", "child.example.com", 1},
			{seedOpen, c, "low", "open", "child.example.com", 1},
			{seedFinding, c, "critical", "fixed", "child.example.com", ts("2025-03-05T00:00:00Z"), ts("2025-03-05T06:00:00Z")},
			{seedScan, c, "failed", "scan", ts("2025-03-05T08:00:00Z"), ts("2025-03-05T08:05:00Z"), 1, 0},
			// The child's own running scan counts against the child's limit, not Acme's.
			{`INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, status) VALUES (gen_random_uuid(), $1, 't', '{nmap}', 'w', 'running')`, c},
			{seedUsage, c, "scan", ts("2025-03-05T08:05:00Z"), 300000},
		})
	})
	p.seed(t, sibling.ID, func(ctx context.Context, tx pgx.Tx) error {
		s := sibling.ID
		return execAll(ctx, tx, [][]any{
			{seedOpen, s, "critical", "open", "sibling.example.com", 100},
			{seedFinding, s, "high", "fixed", "sibling.example.com", ts("2025-03-01T00:00:00Z"), ts("2025-03-03T00:00:00Z")},
			{seedScan, s, "completed", "scan", ts("2025-03-02T00:00:00Z"), ts("2025-03-02T01:00:00Z"), 50, 0},
			{seedUsage, s, "scan", ts("2025-03-02T01:00:00Z"), 3600000},
		})
	})

	const period = "/api/v1/dashboard?from=2025-03-01&to=2025-03-10"
	var d api.DashboardView
	if code := p.sessionDo(t, owner, "GET", period, "", &d); code != http.StatusOK {
		t.Fatalf("dashboard: %d", code)
	}
	if !d.From.Equal(ts("2025-03-01T00:00:00Z")) || !d.To.Equal(ts("2025-03-11T00:00:00Z")) || d.TenantID != p.tenant {
		t.Errorf("period %s .. %s of %s", d.From, d.To, d.TenantID)
	}
	wantCounts(t, "open findings", d.OpenFindings.BySeverity, map[string]int64{"critical": 3, "high": 4, "medium": 2, "low": 6, "info": 1})
	if d.OpenFindings.Total != 16 {
		t.Errorf("open findings total %d, want 16", d.OpenFindings.Total)
	}

	// Every day of the period, zeros included.
	want := map[string][3]int64{ // new, reopened, fixed
		"2025-03-01": {8, 0, 0}, "2025-03-02": {0, 0, 2}, "2025-03-04": {2, 1, 0}, "2025-03-05": {1, 0, 1},
	}
	if len(d.Trend) != 10 {
		t.Fatalf("trend has %d days, want 10: %+v", len(d.Trend), d.Trend)
	}
	for i, day := range d.Trend {
		date := ts("2025-03-01T00:00:00Z").AddDate(0, 0, i).Format(time.DateOnly)
		if day.Date != date || [3]int64{day.New, day.Reopened, day.Fixed} != want[date] {
			t.Errorf("trend day %d: %+v, want %s %v", i, day, date, want[date])
		}
	}

	// MTTR: highs open 24 h and 252 h, the child's critical 6 h.
	if d.MTTR.Fixed != 3 || d.MTTR.Hours == nil || *d.MTTR.Hours != 94 {
		t.Errorf("mttr %d fixed, %v hours; want 3, 94", d.MTTR.Fixed, deref(d.MTTR.Hours))
	}
	for sev, w := range map[string]struct {
		n int64
		h float64
	}{"critical": {1, 6}, "high": {2, 138}, "medium": {}, "low": {}, "info": {}} {
		got := d.MTTR.BySeverity[sev]
		if got.Fixed != w.n || (w.n == 0) != (got.Hours == nil) || (got.Hours != nil && *got.Hours != w.h) {
			t.Errorf("mttr %s: %d fixed, %v hours; want %d, %v", sev, got.Fixed, deref(got.Hours), w.n, w.h)
		}
	}

	// SLA with the defaults: the 5-day-old critical is within 7 days.
	wantSLA(t, d, map[string][4]float64{ // open, within, overdue, oldest overdue days (0: none)
		"critical": {3, 3, 0, 0}, "high": {4, 3, 1, 40}, "medium": {2, 2, 0, 0}, "low": {6, 5, 1, 130},
	})
	if d.SLA.Days["critical"] != 7 || d.SLA.Days["low"] != 120 || len(d.SLA.Overrides) != 0 {
		t.Errorf("sla days %v overrides %v", d.SLA.Days, d.SLA.Overrides)
	}

	wantCounts(t, "scans by status", d.Scans.ByStatus, map[string]int64{"completed": 2, "failed": 1, "queued": 0, "running": 0, "cancelled": 0})
	wantCounts(t, "scans by source", d.Scans.BySource, map[string]int64{"scan": 2, "import": 1})
	if d.Scans.Total != 3 {
		t.Errorf("scans total %d, want 3", d.Scans.Total)
	}
	u := d.Usage
	if u.Tier != "pro" || u.ConcurrentScanLimit != config.DefaultScanLimits["pro"] || u.Running != 1 || u.Queued != 1 ||
		u.Scans != 3 || u.ScanSeconds != 3300 || u.BySource["scan"] != 2 || u.BySource["import"] != 1 {
		t.Errorf("usage %+v", u)
	}

	// Risk: app 2×10+2×5+2 = 32, api 2×5+2+1 = 13, child 10+1 = 11, then
	// the four single lows by name.
	var top []string
	for _, tr := range d.TopTargets {
		top = append(top, fmt.Sprintf("%s=%d", tr.Target, tr.Risk))
	}
	if got := strings.Join(top, " "); got != "app.example.com=32 api.example.com=13 child.example.com=11 t1.example.com=1 t2.example.com=1" {
		t.Errorf("top targets %s", got)
	}
	if len(d.TopTargets) == 5 {
		app, ch := d.TopTargets[0], d.TopTargets[2]
		if app.TargetID == nil || *app.TargetID != appTarget || app.TenantID != p.tenant || app.Open["critical"] != 2 || app.Open["info"] != 1 {
			t.Errorf("top target %+v", app)
		}
		if ch.TenantID != child.ID || ch.TargetID != nil {
			t.Errorf("child's target %+v", ch)
		}
	}

	// The SLA override: analysts may not set it; owners may, within bounds.
	if code, _ := p.do(t, "PATCH", "/api/v1/dashboard/sla", "application/json", `{"critical":3}`); code != http.StatusForbidden {
		t.Errorf("analyst sets SLA: %d, want 403", code)
	}
	for _, bad := range []string{`{"critical":0}`, `{"high":366}`, `{"medium":2.5}`, `{"low":"7"}`, `{"info":3}`, `[]`} {
		if code := p.sessionDo(t, owner, "PATCH", "/api/v1/dashboard/sla", bad, nil); code != http.StatusBadRequest {
			t.Errorf("PATCH sla %s: %d, want 400", bad, code)
		}
	}
	var sla struct {
		Days      map[string]int `json:"days"`
		Overrides map[string]int `json:"overrides"`
	}
	if code := p.sessionDo(t, owner, "PATCH", "/api/v1/dashboard/sla", `{"critical":3,"low":200}`, &sla); code != http.StatusOK {
		t.Fatalf("PATCH sla: %d", code)
	}
	if sla.Days["critical"] != 3 || sla.Days["low"] != 200 || sla.Days["high"] != 30 || len(sla.Overrides) != 2 {
		t.Errorf("after PATCH: %+v", sla)
	}
	sla.Days, sla.Overrides = nil, nil
	if code := p.sessionDo(t, owner, "PATCH", "/api/v1/dashboard/sla", `{"low":null}`, &sla); code != http.StatusOK {
		t.Fatalf("PATCH sla: %d", code)
	}
	if sla.Days["critical"] != 3 || sla.Days["low"] != 120 || len(sla.Overrides) != 1 {
		t.Errorf("after resetting low: %+v", sla)
	}
	d = api.DashboardView{}
	if code := p.sessionDo(t, owner, "GET", period, "", &d); code != http.StatusOK {
		t.Fatalf("dashboard: %d", code)
	}
	wantSLA(t, d, map[string][4]float64{
		"critical": {3, 2, 1, 5}, "high": {4, 3, 1, 40}, "medium": {2, 2, 0, 0}, "low": {6, 5, 1, 130},
	})
	if d.SLA.Overrides["critical"] != 3 {
		t.Errorf("overrides %v", d.SLA.Overrides)
	}

	// Usage events: owners only (billing), newest first, keyset pages.
	if code, _ := p.do(t, "GET", "/api/v1/usage", "", ""); code != http.StatusForbidden {
		t.Errorf("analyst lists usage: %d, want 403", code)
	}
	type usagePage struct {
		Items      []api.UsageEventView `json:"items"`
		NextCursor *string              `json:"next_cursor"`
	}
	var pg usagePage
	if code := p.sessionDo(t, owner, "GET", "/api/v1/usage?from=2025-03-01&to=2025-03-10&limit=2", "", &pg); code != http.StatusOK {
		t.Fatalf("usage: %d", code)
	}
	if len(pg.Items) != 2 || pg.NextCursor == nil || pg.Items[0].TenantID != child.ID || pg.Items[0].DurationMS != 300000 ||
		pg.Items[1].Source != "import" {
		t.Fatalf("usage page 1: %+v", pg)
	}
	cursor := *pg.NextCursor
	pg = usagePage{}
	if code := p.sessionDo(t, owner, "GET", "/api/v1/usage?from=2025-03-01&to=2025-03-10&limit=2&cursor="+cursor, "", &pg); code != http.StatusOK {
		t.Fatalf("usage page 2: %d", code)
	}
	if len(pg.Items) != 1 || pg.NextCursor != nil || pg.Items[0].DurationMS != 1800000 {
		t.Errorf("usage page 2: %+v", pg)
	}

	// Periods: the default is the last 30 days through today; a leap year
	// fits; more than 366 days, an end before the start and other formats do not.
	d = api.DashboardView{}
	if code := p.sessionDo(t, owner, "GET", "/api/v1/dashboard", "", &d); code != http.StatusOK {
		t.Fatalf("default dashboard: %d", code)
	}
	if len(d.Trend) != 30 || d.Trend[29].Date != time.Now().UTC().Format(time.DateOnly) {
		t.Errorf("default period: %d days ending %v", len(d.Trend), d.Trend[len(d.Trend)-1])
	}
	if code := p.sessionDo(t, owner, "GET", "/api/v1/dashboard?from=2024-01-01&to=2024-12-31", "", nil); code != http.StatusOK {
		t.Errorf("366 days: %d, want 200", code)
	}
	for _, q := range []string{
		"from=2024-01-01&to=2025-01-01",
		"from=2025-03-10&to=2025-03-01",
		"from=2025-03-10T00:00:00Z&to=2025-03-09T23:59:59Z",
		"from=yesterday",
		"to=2025-13-01",
	} {
		if code := p.sessionDo(t, owner, "GET", "/api/v1/dashboard?"+q, "", nil); code != http.StatusBadRequest {
			t.Errorf("dashboard?%s: %d, want 400", q, code)
		}
		if code := p.sessionDo(t, owner, "GET", "/api/v1/usage?"+q, "", nil); code != http.StatusBadRequest {
			t.Errorf("usage?%s: %d, want 400", q, code)
		}
	}
	// RFC 3339 bounds are instants: the period ends exactly at to.
	d = api.DashboardView{}
	if code := p.sessionDo(t, owner, "GET", "/api/v1/dashboard?from=2025-03-02T00:00:00Z&to=2025-03-02T12:00:00Z", "", &d); code != http.StatusOK {
		t.Fatalf("dashboard: %d", code)
	}
	if len(d.Trend) != 1 || d.Trend[0].Fixed != 1 || d.MTTR.Fixed != 1 {
		t.Errorf("half day: trend %+v, mttr %+v", d.Trend, d.MTTR)
	}

	// The child tenant's view is its own.
	var cd api.DashboardView
	req := func() int {
		r, _ := http.NewRequest("GET", p.api.URL+period, nil)
		r.Header.Set("X-Session-Token", owner)
		r.Header.Set("X-Tenant-Id", child.ID.String())
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(&cd)
		return resp.StatusCode
	}
	if code := req(); code != http.StatusOK {
		t.Fatalf("child dashboard: %d", code)
	}
	if cd.OpenFindings.Total != 2 || cd.Usage.Tier != "basic" || cd.Usage.ConcurrentScanLimit != 2 || cd.Usage.Running != 1 ||
		cd.Usage.Scans != 1 || cd.MTTR.Fixed != 1 || cd.SLA.Days["critical"] != 7 {
		t.Errorf("child dashboard: open %+v usage %+v mttr %+v sla %v", cd.OpenFindings, cd.Usage, cd.MTTR, cd.SLA.Days)
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func wantCounts(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %v, want %v", what, got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v, want %v", what, got, want)
			return
		}
	}
}

func wantSLA(t *testing.T, d api.DashboardView, want map[string][4]float64) {
	t.Helper()
	if len(d.SLA.BySeverity) != len(want) {
		t.Errorf("sla severities %v", d.SLA.BySeverity)
	}
	for sev, w := range want {
		got := d.SLA.BySeverity[sev]
		oldest := 0.0
		if got.OldestOverdueDays != nil {
			oldest = *got.OldestOverdueDays
		}
		if [4]float64{float64(got.Open), float64(got.WithinSLA), float64(got.Overdue), oldest} != w || got.Days != d.SLA.Days[sev] {
			t.Errorf("sla %s: %+v (oldest %v), want open/within/overdue/oldest %v", sev, got, deref(got.OldestOverdueDays), w)
		}
	}
}
