package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
)

// virtualKey gives a tab a security key: Chrome's virtual authenticator
// (DevTools' WebAuthn domain), which touches itself when asked.
func (tb *tab) virtualKey() webauthn.AuthenticatorID {
	tb.t.Helper()
	if _, err := chromedp.Call(tb.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		tb.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(tb.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportUsb,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		tb.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// TestPortalWebAuthn: on http://localhost (WebAuthn's relying party is a
// domain), a person enrols a security key on /auth/settings (Kratos'
// webauthn.js loaded under our CSP, its button wired by app.js), sees it
// listed, signs out, signs in with the password and is asked for the key
// (aal2), which the virtual authenticator answers; the enrolment is
// audited; removing the key works and is audited.
func TestPortalWebAuthn(t *testing.T) {
	e := startPortalHost(t, "localhost")
	if !strings.HasPrefix(e.URL, "http://localhost:") || !strings.HasPrefix(e.kratosPublic, "http://localhost:") {
		t.Fatalf("portal %s, Kratos %s: want both on localhost", e.URL, e.kratosPublic)
	}
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, e.db, e.kr, bootstrap.TenantInput{
		Name: "Key Co", OwnerEmail: "owner@key.example.test", OwnerName: "Kim", OwnerPassword: "key-password-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	tb := newTab(t)
	auth := tb.virtualKey()
	tb.signInThroughForm(e.URL, "owner@key.example.test", "key-password-1")

	// Enrol: name the key, press the button; webauthn.js asks the
	// authenticator and submits the form to Kratos.
	tb.open(e.URL + "/auth/settings")
	tb.waitFor(`typeof window.oryWebAuthnRegistration === 'function' && !!document.querySelector('form[data-group=webauthn] button[data-ory-trigger=oryWebAuthnRegistration]')`)
	tb.assertLabelled()
	if got := tb.text(`form[data-group=webauthn] h2`); got != "Security keys and passkeys" {
		t.Errorf("group heading %q", got)
	}
	tb.typeInto(`form[data-group=webauthn] input[name=webauthn_register_displayname]`, "Desk key")
	tb.click(`form[data-group=webauthn] button[data-ory-trigger=oryWebAuthnRegistration]`)
	tb.waitPath("/app")
	creds, err := chromedp.Call(tb.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
	if err != nil || len(creds.Credentials) != 1 || creds.Credentials[0].RpID != "localhost" {
		t.Fatalf("credentials on the key: %+v %v", creds, err)
	}
	// Listed, removable.
	tb.open(e.URL + "/auth/settings")
	tb.waitFor(`!!document.querySelector('form[data-group=webauthn] button[name=webauthn_remove]')`)
	if got := tb.text(`form[data-group=webauthn] button[name=webauthn_remove]`); !strings.Contains(got, "Desk key") {
		t.Errorf("remove button %q does not name the key", got)
	}
	tb.snap("settings-webauthn")

	// Sign out; the password alone is not enough now: the key is asked for.
	tb.open(e.URL + "/auth/logout")
	tb.waitPath("/")
	tb.open(e.URL + "/auth/login")
	tb.waitPath("/auth/login")
	tb.typeInto(`input[name="identifier"]`, "owner@key.example.test")
	tb.typeInto(`input[name="password"]`, "key-password-1")
	tb.click(`button[name="method"][value="password"]`)
	tb.waitFor(`location.pathname === '/auth/login' && typeof window.oryWebAuthnLogin === 'function' && !!document.querySelector('button[data-ory-trigger=oryWebAuthnLogin]')`)
	if got := tb.text("h1"); got != "Second factor" {
		t.Errorf("heading %q", got)
	}
	tb.snap("login-webauthn")
	tb.click(`button[data-ory-trigger=oryWebAuthnLogin]`)
	tb.waitPath("/app")
	if got := eval[string](tb, `document.querySelector('main') ? document.querySelector('main').innerText : ''`); !strings.Contains(got, "Key Co") {
		t.Errorf("dashboard after the key: %.200q", got)
	}

	waitAudit := func(action string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			var n int
			err := e.db.InTx(ctx, db.TenantScope(ten.ID), func(ctx context.Context, tx pgx.Tx) error {
				return tx.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = $1 AND tenant_id = $2
					AND details->>'method' = 'webauthn'`, action, ten.ID).Scan(&n)
			})
			if err == nil && n == 1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s (webauthn) audited %d times: %v", action, n, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitAudit("mfa.enrolled")

	// Remove the key (the session is aal2 now).
	tb.open(e.URL + "/auth/settings")
	tb.click(`form[data-group=webauthn] button[name=webauthn_remove]`)
	tb.waitPath("/app")
	tb.open(e.URL + "/auth/settings")
	tb.waitFor(`!!document.querySelector('form[data-group=webauthn] button[data-ory-trigger=oryWebAuthnRegistration]') && !document.querySelector('button[name=webauthn_remove]')`)
	waitAudit("mfa.removed")
}
