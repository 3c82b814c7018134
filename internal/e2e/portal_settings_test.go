package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/webhookwire"
)

// apiAs calls the API with an API key (or none) and decodes its JSON.
func apiAs(t *testing.T, base, key, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// setVal sets a form field's value.
func (tb *tab) setVal(sel, v string) {
	tb.t.Helper()
	tb.do("set "+sel, chromedp.SetValue(chromedp.CSS(sel), v))
}

// waitText waits until the element matching sel contains s.
func (tb *tab) waitText(sel, s string) {
	tb.t.Helper()
	tb.waitNav(fmt.Sprintf(`(function(){var e=document.querySelector(%q);return !!e && e.textContent.includes(%q)})()`, sel, s))
}

// waitNav is waitFor: a page condition polled across a form's navigation.
func (tb *tab) waitNav(expr string) { tb.t.Helper(); tb.waitFor(expr) }

// TestPortalSettings: an owner manages members (invite → email, role,
// remove), teams, API keys (shown once, works, revoked → 401; the initial
// key revealed once, then a clear refusal), a webhook (signed test,
// deliveries listed) and the SLA days (the API reflects them); a read-only
// member sees no manage section and a forged POST is refused.
func TestPortalSettings(t *testing.T) {
	e := startPortal(t)
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, e.db, e.kr, bootstrap.TenantInput{
		Name: "Settle Co", OwnerEmail: "owner@settle.example.test", OwnerName: "Olga", OwnerPassword: "settle-password-1", Tier: "pro",
	})
	if err != nil {
		t.Fatal(err)
	}
	adminKey, _, err := bootstrap.CreateAPIKey(ctx, e.db, ten.Slug, auth.RoleClientAdmin, nil, "test-harness")
	if err != nil {
		t.Fatal(err)
	}
	tb := newTab(t)
	tb.signIn(e.kratosPublic, "owner@settle.example.test", "settle-password-1")

	tb.open(e.URL + "/app/settings")
	for _, s := range []string{"Members", "Teams", "API keys", "Webhooks", "SLA"} {
		if nav := tb.text("nav.settings-nav"); !strings.Contains(nav, s) {
			t.Fatalf("settings nav %q lacks %s", nav, s)
		}
	}

	// ---- members ----
	t.Run("members", func(t *testing.T) {
		tb.t = t
		tb.open(e.URL + "/app/settings/members")
		tb.assertLabelled()
		// Bad input: the API's field error, the typed email kept.
		tb.setVal("#invite-email", "mia@settle.example.test")
		tb.setVal("#invite-name", strings.Repeat("x", 201))
		tb.setVal("#invite-role", "client_analyst")
		tb.click("#invite-form button[type=submit]")
		tb.waitNav(`!!document.querySelector('#err-name')`)
		if got := value(tb, "email kept", chromedp.Value(chromedp.CSS("#invite-email"))); got != "mia@settle.example.test" {
			t.Fatalf("email not kept after a refused invite: %q", got)
		}
		tb.setVal("#invite-name", "Mia")
		tb.click("#invite-form button[type=submit]")
		tb.waitText("#notice", "Invitation sent")
		row := `tr[data-email="mia@settle.example.test"]`
		if got := tb.text(row + " .role"); got != "Analyst" {
			t.Fatalf("invited role %q", got)
		}
		var mails []dbq.EmailOutbox
		to := "mia@settle.example.test"
		if err := e.db.InTx(ctx, db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
			var err error
			mails, err = db.Q.EmailOutboxListAll(ctx, tx, dbq.EmailOutboxListAllParams{Lim: 10, ToAddress: &to})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(mails) != 1 || !strings.Contains(mails[0].Subject, "invited") || !strings.Contains(mails[0].BodyText, "/auth/recovery") {
			t.Fatalf("invitation email in the outbox: %+v", mails)
		}
		tb.setVal(row+" select", "client_readonly")
		tb.click(row + " form.role-form button")
		tb.waitText("#notice", "Role changed")
		if got := tb.text(row + " .role"); got != "Read-only" {
			t.Fatalf("changed role %q", got)
		}
		tb.click(row + " form.remove-form button")
		tb.waitText("#notice", "Member removed")
		if n := eval[int](tb, `document.querySelectorAll('`+row+`').length`); n != 0 {
			t.Fatal("removed member still listed")
		}
	})

	t.Run("teams", func(t *testing.T) {
		tb.t = t
		tb.open(e.URL + "/app/settings/teams")
		tb.assertLabelled()
		tb.setVal("#team-name", "Blue team")
		tb.click("#team-form button[type=submit]")
		tb.waitNav(`!!document.querySelector('tr[data-team="Blue team"]')`)
		tb.setVal(`tr[data-team="Blue team"] input[name=name]`, "Red team")
		tb.click(`tr[data-team="Blue team"] form.rename-form button`)
		tb.waitNav(`!!document.querySelector('tr[data-team="Red team"]')`)
		tb.click(`tr[data-team="Red team"] form.delete-form button`)
		tb.waitNav(`!!document.querySelector('#no-teams')`)
	})

	t.Run("api-keys", func(t *testing.T) {
		tb.t = t
		fixtures{t: t, p: e.platform, kr: e.kr}.initialKey(ten.ID)
		tb.open(e.URL + "/app/settings/api-keys")
		tb.assertLabelled()
		// client_api without a scope: the API's words, the name kept.
		tb.setVal("#key-name", "CI pipeline")
		tb.setVal("#key-role", "client_api")
		tb.click("#key-form button[type=submit]")
		tb.waitNav(`!!document.querySelector('#err-scopes')`)
		if got := value(tb, "name kept", chromedp.Value(chromedp.CSS("#key-name"))); got != "CI pipeline" {
			t.Fatalf("name not kept: %q", got)
		}
		tb.click(`input[name=scopes][value="findings:view"]`)
		tb.click("#key-form button[type=submit]")
		key := tb.text("#new-key")
		if !strings.Contains(tb.text("main"), "will not be shown again") {
			t.Fatal("no warning that the key is shown once")
		}
		if eval[int](tb, `document.querySelectorAll('button[data-copy="#new-key"]').length`) != 1 {
			t.Fatal("no copy button")
		}
		if code, me := apiAs(t, e.api.URL, key, "GET", "/api/v1/me", ""); code != 200 || me["tenant_id"] != ten.ID.String() {
			t.Fatalf("new key against /me: %d %v", code, me)
		}
		tb.open(e.URL + "/app/settings/api-keys")
		if html := eval[string](tb, `document.body.innerHTML`); strings.Contains(html, key) {
			t.Fatal("the key is shown again on the list")
		}
		// Initial key: revealed once, then a clear refusal.
		tb.click("#reveal-form button")
		initial := tb.text("#new-key")
		if code, _ := apiAs(t, e.api.URL, initial, "GET", "/api/v1/me", ""); code != 200 {
			t.Fatalf("initial key against /me: %d", code)
		}
		tb.open(e.URL + "/app/settings/api-keys")
		tb.click("#reveal-form button")
		if msg := tb.text("#reveal-message"); !strings.Contains(msg, "already been revealed") {
			t.Fatalf("second reveal: %q", msg)
		}
		// Revoke the CI key: the API refuses it afterwards.
		tb.click(`tr[data-key="CI pipeline"] form.revoke-form button`)
		tb.waitText(`tr[data-key="CI pipeline"] .key-status`, "revoked")
		if code, _ := apiAs(t, e.api.URL, key, "GET", "/api/v1/me", ""); code != 401 {
			t.Fatalf("revoked key against /me: %d", code)
		}
	})

	t.Run("webhooks", func(t *testing.T) {
		tb.t = t
		type hit struct {
			sig  string
			body []byte
		}
		hits := make(chan hit, 10)
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			hits <- hit{r.Header.Get(webhookwire.HeaderSignature), b}
		}))
		defer recv.Close()
		tb.open(e.URL + "/app/settings/webhooks")
		tb.assertLabelled()
		// Not loopback: refused by the API's policy, the URL kept.
		tb.setVal("#webhook-url", "http://10.1.2.3/hook")
		tb.click("#webhook-form button[type=submit]")
		tb.waitNav(`!!document.querySelector('#err-url')`)
		if got := value(tb, "url kept", chromedp.Value(chromedp.CSS("#webhook-url"))); got != "http://10.1.2.3/hook" {
			t.Fatalf("url not kept: %q", got)
		}
		tb.setVal("#webhook-url", recv.URL+"/hook")
		tb.click("#webhook-form button[type=submit]")
		secret := tb.text("#new-key")
		tb.open(e.URL + "/app/settings/webhooks")
		tb.click(`tr[data-url="` + recv.URL + `/hook"] form.test-form button`)
		tb.waitText("#notice", "Test event sent")
		select {
		case h := <-hits:
			if err := webhookwire.Verify(secret, h.sig, h.body, 5*time.Minute, time.Now()); err != nil {
				t.Fatalf("test delivery's signature: %v (%s)", err, h.sig)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the test event never reached the endpoint")
		}
		// The deliveries list shows it with the endpoint's status code, by
		// itself (it refreshes while a delivery is pending).
		tb.waitNav(`Array.from(document.querySelectorAll('#deliveries .status-code')).some(e => e.textContent.trim() === '200')`)
		if !strings.Contains(tb.text("#deliveries"), webhookwire.EventPing) {
			t.Fatalf("deliveries list: %s", tb.text("#deliveries"))
		}
	})

	t.Run("sla", func(t *testing.T) {
		tb.t = t
		tb.open(e.URL + "/app/settings/sla")
		tb.assertLabelled()
		tb.setVal("#sla-critical", "5")
		tb.setVal("#sla-low", "200")
		tb.click("#sla-form button[type=submit]")
		tb.waitText("#notice", "Saved")
		if got := tb.text(`tr[data-severity=critical] .days`); got != "5" {
			t.Fatalf("critical days shown %q", got)
		}
		code, dash := apiAs(t, e.api.URL, adminKey, "GET", "/api/v1/dashboard", "")
		days, _ := dash["sla"].(map[string]any)["days"].(map[string]any)
		if code != 200 || days["critical"] != float64(5) || days["low"] != float64(200) || days["high"] != float64(30) {
			t.Fatalf("dashboard SLA after the change: %d %v", code, dash["sla"])
		}
	})

	t.Run("readonly", func(t *testing.T) {
		portalMember(t, e, ten.ID, "reader@settle.example.test", "reader-password-1", "client_readonly")
		ro := newTab(t)
		ro.allowErrors = []string{"status of 403"}
		ro.signIn(e.kratosPublic, "reader@settle.example.test", "reader-password-1")
		ro.open(e.URL + "/app/settings")
		if got := ro.text("#no-settings"); !strings.Contains(got, "does not manage") {
			t.Fatalf("read-only settings page: %q", got)
		}
		if n := eval[int](ro, `document.querySelectorAll('nav.settings-nav a').length`); n != 0 {
			t.Fatalf("read-only member sees %d settings sections", n)
		}
		status := value(ro, "forged invite", chromedp.Evaluate[int](`fetch('/app/settings/members', {method: 'POST',
			headers: {'Content-Type': 'application/x-www-form-urlencoded'},
			body: 'email=evil%40settle.example.test&role=client_owner'}).then(r => r.status)`, chromedp.EvalAwaitPromise))
		if status != http.StatusForbidden {
			t.Fatalf("forged invite answered %d, want 403", status)
		}
		status = value(ro, "forged key", chromedp.Evaluate[int](`fetch('/app/settings/api-keys', {method: 'POST',
			headers: {'Content-Type': 'application/x-www-form-urlencoded'},
			body: 'name=x&role=client_admin'}).then(r => r.status)`, chromedp.EvalAwaitPromise))
		if status != http.StatusForbidden {
			t.Fatalf("forged API key answered %d, want 403", status)
		}
		ro.open(e.URL + "/app/settings/members")
		if h := ro.text("main h1"); h != "Not allowed" {
			t.Fatalf("read-only member on members: %q", h)
		}
	})
}
