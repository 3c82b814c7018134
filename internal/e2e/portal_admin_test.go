package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/secureops/secureops/internal/bootstrap"
)

// TestPortalAdmin: a platform admin sees every tenant, suspends one (its
// owner then gets a readable "suspended" page), resumes it, impersonates its
// owner (banner, the owner's tenant, audited) and ends it (banner gone); a
// tenant's owner opening /admin gets the 404 page.
func TestPortalAdmin(t *testing.T) {
	e := startPortal(t)
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, e.db, e.kr, bootstrap.TenantInput{
		Name: "Target Co", OwnerEmail: "owner@target.example.test", OwnerName: "Tom", OwnerPassword: "target-password-1", Tier: "basic",
	})
	if err != nil {
		t.Fatal(err)
	}
	ident, err := e.kr.EnsureIdentity(ctx, "root@portal-admin.test", "Root", "root-password-123", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bootstrap.SetPlatformAdmin(ctx, e.db, ident.ID, ident.Email, "Root"); err != nil {
		t.Fatal(err)
	}

	owner := newTab(t)
	owner.allowErrors = []string{"status of 403", "status of 404"} // the suspended page and /admin's 404 are expected
	owner.signIn(e.kratosPublic, "owner@target.example.test", "target-password-1")
	owner.open(e.URL + "/admin")
	if h := owner.text("main h1"); h != "Not found" {
		t.Fatalf("a tenant owner on /admin sees %q, want the 404 page", h)
	}

	adm := newTab(t)
	adm.signIn(e.kratosPublic, "root@portal-admin.test", "root-password-123")
	adm.open(e.URL + "/admin")
	adm.assertLabelled()
	row := `tr[data-slug="` + ten.Slug + `"]`
	if got := adm.text(row); !strings.Contains(got, "Target Co") || !strings.Contains(got, "basic") || !strings.Contains(got, "active") {
		t.Fatalf("tenant row: %q", got)
	}
	if !strings.Contains(adm.text("#tenants"), "Acme Corp") {
		t.Fatal("the admin does not see the other tenants")
	}
	// The tenant's onboarding workflow, one click away in the Web UI.
	href := eval[string](adm, `(document.querySelector('`+row+` .workflow-link') || {}).href || ''`)
	if want := "http://127.0.0.1:8233/namespaces/" + e.cfg.TemporalNamespace + "/workflows/onboarding%2F" + ten.Slug; href != want {
		t.Fatalf("onboarding workflow link %q, want %q", href, want)
	}

	// Suspend: the owner is refused with a page, not JSON.
	adm.click(row + " form.suspend-form button")
	adm.waitText("#notice", "Tenant suspended")
	if got := adm.text(row + " .status"); got != "suspended" {
		t.Fatalf("status after suspend: %q", got)
	}
	owner.open(e.URL + "/app")
	if ct := eval[string](owner, `document.contentType`); ct != "text/html" {
		t.Fatalf("suspended tenant's owner got %s", ct)
	}
	if got := owner.text("main"); !strings.Contains(got, "suspended") {
		t.Fatalf("suspended page: %q", got)
	}
	adm.click(row + " form.resume-form button")
	adm.waitText("#notice", "Tenant resumed")
	if got := adm.text(row + " .status"); got != "active" {
		t.Fatalf("status after resume: %q", got)
	}
	owner.open(e.URL + "/app")
	if h := owner.text("main h1"); h != "Dashboard" {
		t.Fatalf("resumed tenant's owner sees %q", h)
	}

	// Impersonate the owner.
	adm.click(row + " a.impersonate-link")
	adm.waitNav(`!!document.querySelector('#impersonate-form')`)
	adm.assertLabelled()
	adm.setVal("#imp-user", ten.OwnerID.String())
	adm.setVal("#imp-reason", "Support ticket 42")
	adm.click("#impersonate-form button[type=submit]")
	adm.waitNav(`!!document.querySelector('.banner-impersonation')`)
	if u := adm.location(); !strings.HasSuffix(u, "/app") {
		t.Fatalf("after impersonating: %s", u)
	}
	if got := adm.text(".banner-impersonation"); !strings.Contains(got, "Target Co") {
		t.Fatalf("banner: %q", got)
	}
	if got := adm.text(`[data-testid="tenant-name"]`); got != "Target Co" {
		t.Fatalf("tenant while impersonating: %q", got)
	}
	// Cookie flags: the token is not readable by scripts.
	if c := eval[string](adm, `document.cookie`); strings.Contains(c, "so_impersonation") {
		t.Fatalf("impersonation cookie readable by scripts: %q", c)
	}
	// The tenant's owner reads their audit log (a session: keys may not).
	req, _ := http.NewRequest("GET", e.api.URL+"/api/v1/audit?action=impersonation.started", nil)
	req.Header.Set("X-Session-Token", login(t, e.kr, "owner@target.example.test", "target-password-1"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var audit map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&audit)
	resp.Body.Close()
	code := resp.StatusCode
	items, _ := audit["items"].([]any)
	if code != 200 || len(items) != 1 {
		t.Fatalf("audit of the impersonation: %d %v", code, audit)
	}
	if it := items[0].(map[string]any); it["actor_user_id"] != ident.ID.String() || it["target_id"] != ten.OwnerID.String() {
		t.Fatalf("audit entry: %v", it)
	}

	// Acting as the owner, the admin has the owner's rights only: no admin
	// pages; the banner (and its way out) stays on every page.
	adm.allowErrors = []string{"status of 404"}
	adm.open(e.URL + "/admin")
	if h := adm.text("main h1"); h != "Not found" {
		t.Fatalf("/admin while impersonating: %q", h)
	}

	// End it: back on /admin as the admin, no banner.
	adm.click(".banner-impersonation button")
	adm.waitText("#notice", "Impersonation ended")
	if n := eval[int](adm, `document.querySelectorAll('.banner-impersonation').length`); n != 0 {
		t.Fatal("banner still shown after ending the impersonation")
	}
	if !strings.Contains(adm.text("#tenants"), "Acme Corp") {
		t.Fatal("not back on the admin's tenant list")
	}
}
