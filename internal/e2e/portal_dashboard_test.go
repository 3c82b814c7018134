package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
)

// portalSeed is a tenant with an owner who can sign in and findings made by
// importing reports with an analyst key of that tenant.
type portalSeed struct {
	tenant       bootstrap.Tenant
	email, pw    string
	api          *platform // the API as the tenant's analyst key
	openImage    string    // target with 5 open findings (1 critical, 1 high, 3 medium)
	fixedHost    string    // target whose one finding was triaged fixed
	openFindings int
}

func seedPortalTenant(t *testing.T, e *portalEnv, name string) portalSeed {
	t.Helper()
	ctx := context.Background()
	slug := strings.ToLower(strings.ReplaceAll(name, " ", "-"))
	s := portalSeed{email: "owner@" + slug + ".example.test", pw: "portal-owner-pw-1"}
	var err error
	s.tenant, err = bootstrap.CreateTenant(ctx, e.db, e.kr, bootstrap.TenantInput{
		Name: name, Slug: slug, OwnerEmail: s.email, OwnerName: "Owner of " + name, OwnerPassword: s.pw, Tier: "pro",
	})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := bootstrap.CreateAPIKey(ctx, e.db, s.tenant.Slug, auth.RoleClientAnalyst, nil, "seed")
	if err != nil {
		t.Fatal(err)
	}
	p := *e.platform
	p.key, p.tenant = key, s.tenant.ID
	s.api = &p
	s.openImage = "image:registry." + slug + ".test/app:1.0"
	s.fixedHost = "127.0.0.1"
	for _, step := range []struct {
		scanner, target, report string
	}{
		{"trivy", s.openImage, "trivy/scheme_2_many_vulns.json"},
		{"nmap", s.fixedHost, "nmap/nmap_1port.xml"},
	} {
		code, body := p.upload(t, map[string]string{"scanner": step.scanner, "target": step.target}, fixture(t, step.report))
		if code != http.StatusAccepted {
			t.Fatalf("import into %s: %d %v", step.target, code, body)
		}
		if sc := p.waitScan(t, body["id"].(string)); sc["status"] != "completed" {
			t.Fatalf("import scan: %v", sc)
		}
	}
	// The nmap finding is fixed today: the trend has something fixed.
	_, list := p.do(t, "GET", "/api/v1/findings?scanner=nmap", "", "")
	items, _ := list["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("seed: nmap findings %v", list)
	}
	id := items[0].(map[string]any)["id"].(string)
	if code, body := p.do(t, "PATCH", "/api/v1/findings/"+id, "application/json", `{"status":"fixed","comment":"patched"}`); code != http.StatusOK {
		t.Fatalf("seed: fix %s: %d %v", id, code, body)
	}
	s.openFindings = 5
	return s
}

// apiJSON decodes an API answer (as the seed's analyst key) into out.
func (s portalSeed) apiJSON(t *testing.T, path string, out any) {
	t.Helper()
	code, body := s.api.do(t, "GET", path, "", "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, code, body)
	}
	b, _ := json.Marshal(body)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

func dashJSONEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s: page has %s, API says %s", what, g, w)
	}
}

// TestPortalDashboard (issue 12 item 4): the dashboard's charts carry the
// API's numbers; SLA, usage against the tier, top targets and the
// sub-tenant tree are shown; a sub-tenant link switches tenant; a brand-new
// tenant gets an empty state that says what to do.
func TestPortalDashboard(t *testing.T) {
	e := startPortal(t)
	ctx := context.Background()
	s := seedPortalTenant(t, e, "Dash Co")
	child, err := bootstrap.CreateTenant(ctx, e.db, nil, bootstrap.TenantInput{Name: "Dash Child", ParentSlug: s.tenant.Slug, Tier: "basic"})
	if err != nil {
		t.Fatal(err)
	}

	tb := newTab(t)
	tb.signIn(e.kratosPublic, s.email, s.pw)
	tb.open(e.URL + "/app")
	if got := tb.text("main h1"); got != "Dashboard" {
		t.Fatalf("heading %q", got)
	}
	tb.waitJS(`!!(window.Chart && Chart.getChart(document.getElementById('chart-severity')) && Chart.getChart(document.getElementById('chart-trend')))`)

	var api struct {
		OpenFindings struct {
			Total      int64            `json:"total"`
			BySeverity map[string]int64 `json:"by_severity"`
		} `json:"open_findings"`
		Trend []struct {
			Date     string `json:"date"`
			New      int64  `json:"new"`
			Reopened int64  `json:"reopened"`
			Fixed    int64  `json:"fixed"`
		} `json:"trend"`
		SLA struct {
			BySeverity map[string]struct {
				Days      int   `json:"days"`
				WithinSLA int64 `json:"within_sla"`
				Overdue   int64 `json:"overdue"`
			} `json:"by_severity"`
		} `json:"sla"`
		Usage struct {
			ConcurrentScanLimit int `json:"concurrent_scan_limit"`
		} `json:"usage"`
		TopTargets []struct {
			Target string `json:"target"`
		} `json:"top_targets"`
	}
	s.apiJSON(t, "/api/v1/dashboard", &api)
	if api.OpenFindings.Total != int64(s.openFindings) {
		t.Fatalf("seed: API counts %d open findings, want %d", api.OpenFindings.Total, s.openFindings)
	}
	sevs := []string{"critical", "high", "medium", "low", "info"}
	wantSev := make([]int64, len(sevs))
	for i, sev := range sevs {
		wantSev[i] = api.OpenFindings.BySeverity[sev]
	}
	dashJSONEqual(t, "severity chart data", eval[[]int64](tb, `Chart.getChart(document.getElementById('chart-severity')).data.datasets[0].data`), wantSev)
	dashJSONEqual(t, "severity chart labels", eval[[]string](tb, `Chart.getChart(document.getElementById('chart-severity')).data.labels`), sevs)

	var dates []string
	var newer, fixed []int64
	var anyFixed bool
	for _, d := range api.Trend {
		dates, newer, fixed = append(dates, d.Date), append(newer, d.New), append(fixed, d.Fixed)
		anyFixed = anyFixed || d.Fixed > 0
	}
	if !anyFixed {
		t.Errorf("seed: the API's trend shows nothing fixed: %+v", api.Trend)
	}
	dashJSONEqual(t, "trend labels", eval[[]string](tb, `Chart.getChart(document.getElementById('chart-trend')).data.labels`), dates)
	dashJSONEqual(t, "trend new", eval[[]int64](tb, `Chart.getChart(document.getElementById('chart-trend')).data.datasets[0].data`), newer)
	dashJSONEqual(t, "trend fixed", eval[[]int64](tb, `Chart.getChart(document.getElementById('chart-trend')).data.datasets[1].data`), fixed)
	if got := eval[string](tb, `Chart.getChart(document.getElementById('chart-severity')).data.datasets[0].backgroundColor[0]`); got != "#b3261e" {
		t.Errorf("critical bar colour %q, want the severity colour", got)
	}

	// SLA: within / overdue per severity, and the tenant's SLA days.
	for _, sev := range []string{"critical", "high", "medium"} {
		row := fmt.Sprintf(`#sla tr[data-severity=%q]`, sev)
		if got, want := tb.text(row+" .sla-within"), fmt.Sprint(api.SLA.BySeverity[sev].WithinSLA); got != want {
			t.Errorf("SLA %s within: page %q, API %s", sev, got, want)
		}
		if got, want := tb.text(row+" td:nth-child(2)"), fmt.Sprintf("%d days", api.SLA.BySeverity[sev].Days); !strings.HasPrefix(got, want) {
			t.Errorf("SLA %s deadline: page %q, API %s", sev, got, want)
		}
	}
	usage := tb.text("#usage")
	if !strings.Contains(usage, "SecureOps Pro") || !strings.Contains(usage, fmt.Sprintf("of %d", api.Usage.ConcurrentScanLimit)) {
		t.Errorf("usage against the tier: %q", usage)
	}
	if n := eval[int](tb, `document.querySelectorAll('#usage-events tbody tr').length`); n == 0 {
		t.Errorf("an owner (billing:view) sees no billed scans")
	}
	if len(api.TopTargets) == 0 || !strings.Contains(tb.text("#top-targets"), api.TopTargets[0].Target) {
		t.Errorf("top targets: API %+v, page %q", api.TopTargets, tb.text("#top-targets"))
	}
	if got := tb.text("#recent-scans"); !strings.Contains(got, s.openImage) {
		t.Errorf("recent scans miss the imports: %q", got)
	}
	tb.assertLabelled()

	// The tree: the tenant and its child, nested; the child's link acts in it.
	if n := eval[int](tb, `document.querySelectorAll('#tenant-tree ul ul a[data-tenant="`+child.ID.String()+`"]').length`); n != 1 {
		t.Fatalf("sub-tenant tree lacks the nested child: %q", tb.text("#tenant-tree"))
	}
	link := eval[string](tb, `document.querySelector('#tenant-tree a[data-tenant="`+child.ID.String()+`"]').getAttribute('href')`)
	if link != "/app?tenant="+child.ID.String() {
		t.Errorf("sub-tenant link %q", link)
	}
	tb.open(e.URL + link)
	if got := tb.text("main hgroup p"); !strings.Contains(got, "Dash Child") {
		t.Errorf("the sub-tenant's dashboard names %q", got)
	}
	tb.waitJS(`document.getElementById('dashboard-empty') !== null`) // the child has nothing yet

	// A brand-new tenant: the empty state says what to do, with the links.
	if _, err := bootstrap.CreateTenant(ctx, e.db, e.kr, bootstrap.TenantInput{
		Name: "Fresh Co", OwnerEmail: "owner@fresh.example.test", OwnerName: "Fran", OwnerPassword: "fresh-password-1",
	}); err != nil {
		t.Fatal(err)
	}
	fresh := newTab(t)
	fresh.signIn(e.kratosPublic, "owner@fresh.example.test", "fresh-password-1")
	fresh.open(e.URL + "/app")
	if got := fresh.text("#dashboard-empty"); !strings.Contains(got, "No findings yet — add a target and run your first scan") {
		t.Errorf("empty state: %q", got)
	}
	if n := eval[int](fresh, `document.querySelectorAll('#dashboard-empty a[href="/app/targets"], #dashboard-empty a[href="/app/scans"]').length`); n != 2 {
		t.Errorf("empty state links: %d", n)
	}
	fresh.assertLabelled()

	// A platform admin acting in no tenant gets a way on, not an error.
	ident, err := e.kr.EnsureIdentity(ctx, "root@platform.example.test", "Root", "root-password-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bootstrap.SetPlatformAdmin(ctx, e.db, ident.ID, "root@platform.example.test", "Root"); err != nil {
		t.Fatal(err)
	}
	root := newTab(t)
	root.signIn(e.kratosPublic, "root@platform.example.test", "root-password-1")
	root.open(e.URL + "/app")
	if got := root.text("#dashboard-no-tenant"); !strings.Contains(got, "Choose a tenant") {
		t.Errorf("platform admin's dashboard: %q", got)
	}
}
