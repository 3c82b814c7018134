package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp/totp"

	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
)

// totpNow is the current code of an authenticator app holding secret.
func totpNow(t *testing.T, secret string) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestPortalMFA: a person enrols an authenticator app and backup codes on
// /auth/settings; signing in again asks for the second factor before any
// page; an owner who signed in with it makes the tenant require one; a
// member without one is then refused by the API (403 problem naming the
// reason, audited) and sent by the portal to enrol.
func TestPortalMFA(t *testing.T) {
	e := startPortal(t)
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, e.db, e.kr, bootstrap.TenantInput{
		Name: "Factor Co", OwnerEmail: "owner@factor.example.test", OwnerName: "Fay", OwnerPassword: "factor-password-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	portalMember(t, e, ten.ID, "ana@factor.example.test", "factor-password-2", "client_analyst")

	tb := newTab(t)
	tb.signInThroughForm(e.URL, "owner@factor.example.test", "factor-password-1")
	// Turning "require MFA" on without a second factor would lock the owner out.
	tb.open(e.URL + "/app/settings")
	tb.click("#require-mfa")
	tb.click("#security-save")
	tb.waitFor(`!!document.querySelector('#security-error')`)
	if got := tb.text("#security-error"); !strings.Contains(got, "second factor first") {
		t.Fatalf("refusal %q", got)
	}

	// Enrol an authenticator app.
	tb.open(e.URL + "/auth/settings")
	tb.waitFor(`!!document.querySelector('form[data-group=totp] input[name=totp_code]')`)
	tb.assertLabelled()
	secret := strings.TrimSpace(eval[string](tb, `(() => { for (const p of document.querySelectorAll('form[data-group=totp] .flow-text code')) { if (/^[A-Z2-7]{16,}$/.test(p.textContent.trim())) return p.textContent; } return ''; })()`))
	if secret == "" {
		t.Fatalf("no TOTP secret on the page")
	}
	if !eval[bool](tb, `!!document.querySelector('form[data-group=totp] img[src^="data:image/png"]')`) {
		t.Error("no QR code image")
	}
	tb.typeInto(`form[data-group=totp] input[name=totp_code]`, totpNow(t, secret))
	tb.click(`form[data-group=totp] button[name=method][value=totp]`)
	tb.waitPath("/app") // Kratos returns to the dashboard after a change
	tb.open(e.URL + "/auth/settings")
	tb.waitFor(`!!document.querySelector('form[data-group=totp] button[name=totp_unlink]')`)
	tb.snap("settings-totp")

	// Sign out; signing in with the password alone is not enough now.
	tb.open(e.URL + "/auth/logout")
	tb.waitPath("/")
	tb.open(e.URL + "/auth/login")
	tb.waitPath("/auth/login")
	tb.typeInto(`input[name="identifier"]`, "owner@factor.example.test")
	tb.typeInto(`input[name="password"]`, "factor-password-1")
	tb.click(`button[name="method"][value="password"]`)
	tb.waitFor(`location.pathname === '/auth/login' && !!document.querySelector('input[name=totp_code]')`)
	if got := tb.text("h1"); got != "Second factor" {
		t.Errorf("heading %q", got)
	}
	tb.assertLabelled()
	tb.typeInto(`input[name=totp_code]`, totpNow(t, secret))
	tb.click(`button[name=method][value=totp]`)
	tb.waitPath("/app")

	// Now the owner may require it.
	tb.open(e.URL + "/app/settings")
	tb.click("#require-mfa")
	tb.click("#security-save")
	tb.waitFor(`location.search === '?done=saved' && document.readyState === 'complete'`)
	if !eval[bool](tb, `document.querySelector('#require-mfa').checked`) || eval[bool](tb, `!!document.querySelector('#security-error')`) {
		t.Fatalf("require MFA not saved: %s", tb.text("#security"))
	}

	// The analyst has no second factor: the API refuses, the portal sends
	// them to enrol one.
	cookies := kratosBrowserLogin(t, e.kratosPublic, "ana@factor.example.test", "factor-password-2")
	req, _ := http.NewRequest("GET", e.URL+"/api/v1/me", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var problem map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&problem)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || problem["type"] != "/problems/mfa-required" || !strings.Contains(problem["detail"].(string), "requires a second factor") {
		t.Fatalf("analyst without MFA: %d %v", resp.StatusCode, problem)
	}
	ana := newTab(t)
	ana.signIn(e.kratosPublic, "ana@factor.example.test", "factor-password-2")
	ana.open(e.URL + "/app/findings")
	ana.waitFor(`location.pathname === '/auth/settings' && !!document.querySelector('#mfa-required')`)
	if !eval[bool](ana, `!!document.querySelector('#mfa-sign-out') && !document.querySelector('a[href="/app"]')`) {
		t.Error("a refused member is offered the dashboard (which sends them back) instead of signing out")
	}
	ana.snap("settings-mfa-required")
	var refused int
	err = e.db.InTx(ctx, db.TenantScope(ten.ID), func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE action = 'session.mfa_refused' AND tenant_id = $1", ten.ID).Scan(&refused)
	})
	if err != nil || refused < 2 {
		t.Fatalf("audited refusals: %d %v", refused, err)
	}

	// Kratos' settings hook told the API: the enrolment is audited (the
	// hook is fire-and-forget, so it may land a moment later).
	deadline := time.Now().Add(20 * time.Second)
	for {
		var enrolled int
		err = e.db.InTx(ctx, db.TenantScope(ten.ID), func(ctx context.Context, tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'mfa.enrolled' AND tenant_id = $1
				AND details->>'method' = 'totp' AND actor_user_id = $2`, ten.ID, ten.OwnerID).Scan(&enrolled)
		})
		if err == nil && enrolled == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("TOTP enrolment audited %d times: %v", enrolled, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Removing the app is audited too.
	tb.open(e.URL + "/auth/settings")
	tb.click(`form[data-group=totp] button[name=totp_unlink]`)
	tb.waitPath("/app")
	deadline = time.Now().Add(20 * time.Second)
	for {
		var removed int
		err = e.db.InTx(ctx, db.TenantScope(ten.ID), func(ctx context.Context, tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'mfa.removed' AND tenant_id = $1
				AND details->>'method' = 'totp'`, ten.ID).Scan(&removed)
		})
		if err == nil && removed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("TOTP removal audited %d times: %v", removed, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The hook refuses callers without the secret.
	resp, err = http.Post(e.URL+"/api/v1/kratos/hooks/settings", "application/json", strings.NewReader(`{"identity_id":"`+ten.OwnerID.String()+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("hook without the secret: %d", resp.StatusCode)
	}
}
