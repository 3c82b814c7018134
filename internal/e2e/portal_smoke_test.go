package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/secureops/secureops/internal/bootstrap"
)

// TestPortalSignedInDashboard: a person with a Kratos session opens /app and
// sees their tenant; without one, /app sends them to sign in.
func TestPortalSignedInDashboard(t *testing.T) {
	e := startPortal(t)
	ctx := context.Background()
	if _, err := bootstrap.CreateTenant(ctx, e.db, e.kr, bootstrap.TenantInput{
		Name: "Smoke Co", OwnerEmail: "owner@smoke.example.test", OwnerName: "Sam", OwnerPassword: "smoke-password-1",
	}); err != nil {
		t.Fatal(err)
	}
	anon := newTab(t)
	anon.open(e.URL + "/app")
	if u := anon.location(); !strings.Contains(u, "/auth/login") {
		t.Fatalf("anonymous /app went to %s, want the sign-in page", u)
	}

	tb := newTab(t)
	tb.signIn(e.kratosPublic, "owner@smoke.example.test", "smoke-password-1")
	tb.open(e.URL + "/app")
	if got := tb.text("main h1"); got != "Dashboard" {
		t.Fatalf("heading %q", got)
	}
	if got := tb.text("main"); !strings.Contains(got, "Smoke Co") {
		t.Fatalf("dashboard does not name the tenant: %q", got)
	}
}

// TestPortalTenantSwitcher: a person in two tenants picks one in the
// navigation's switcher and the pages act in it; a tenant they leave drops
// out of the choice instead of stranding them.
func TestPortalTenantSwitcher(t *testing.T) {
	e := startPortal(t)
	ctx := context.Background()
	_, err := bootstrap.CreateTenant(ctx, e.db, e.kr, bootstrap.TenantInput{
		Name: "Alpha Works", OwnerEmail: "pat@alpha.example.test", OwnerName: "Pat", OwnerPassword: "switch-password-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	second, err := bootstrap.CreateTenant(ctx, e.db, e.kr, bootstrap.TenantInput{Name: "Beta Systems"})
	if err != nil {
		t.Fatal(err)
	}
	portalMember(t, e, second.ID, "pat@alpha.example.test", "switch-password-1", "client_analyst")

	tb := newTab(t)
	tb.signIn(e.kratosPublic, "pat@alpha.example.test", "switch-password-1")
	tb.open(e.URL + "/app")
	options := eval[[]string](tb, `Array.from(document.querySelectorAll('#tenant-select option')).map(o => o.textContent)`)
	if strings.Join(options, ",") != "Alpha Works,Beta Systems" {
		t.Fatalf("switcher offers %v", options)
	}
	tb.assertLabelled()
	// Choosing in the list is enough: the form posts itself (htmx) and the
	// browser lands on a new dashboard.
	tb.submit("switch to Beta", `^/app$`, chromedp.SetValue(chromedp.CSS("#tenant-select"), second.ID.String()),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#tenant-select').dispatchEvent(new Event('change', {bubbles: true}))`))
	if got := tb.text("main h1 + p, main"); !strings.Contains(got, "Beta Systems") {
		t.Fatalf("after switching, the dashboard is not Beta's: %q", got)
	}
	// The choice holds across pages.
	tb.open(e.URL + "/app/findings")
	if sel := eval[string](tb, `document.querySelector('#tenant-select').selectedOptions[0].textContent`); sel != "Beta Systems" {
		t.Fatalf("the findings page acts in %q", sel)
	}

	// Pat leaves Beta: the remembered choice is forgotten and Alpha is shown,
	// not a dead end.
	su, err := pgx.Connect(ctx, e.superDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(ctx)
	if _, err := su.Exec(ctx, "DELETE FROM memberships WHERE tenant_id = $1", second.ID); err != nil {
		t.Fatal(err)
	}
	tb.open(e.URL + "/app")
	tb.waitFor(`location.pathname === '/app' && document.readyState === 'complete'`)
	if got := tb.text("main"); !strings.Contains(got, "Alpha Works") {
		t.Fatalf("after leaving Beta the dashboard shows %q", got)
	}
}
