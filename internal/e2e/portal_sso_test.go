package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/sso"
	"github.com/secureops/secureops/internal/targets"
)

// testIdP is a real OpenID Connect provider in the test process
// (github.com/oauth2-proxy/mockoidc): it signs in whoever is queued, and
// refuses the refresh token of a person removed from its directory, as
// Okta, Entra ID or Keycloak do for a deactivated user.
type testIdP struct {
	*mockoidc.MockOIDC
	mu      sync.Mutex
	removed map[string]bool // subjects
}

func startIdP(t *testing.T) *testIdP {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	idp := &testIdP{MockOIDC: m, removed: map[string]bool{}}
	if err := m.AddMiddleware(idp.refuseRemoved); err != nil {
		t.Fatal(err)
	}
	ln := listenLoopback(t)
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return idp
}

func (idp *testIdP) remove(subject string) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.removed[subject] = true
}

func (idp *testIdP) refuseRemoved(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, mockoidc.TokenEndpoint) && r.ParseForm() == nil && r.PostForm.Get("grant_type") == "refresh_token" {
			if parts := strings.Split(r.PostForm.Get("refresh_token"), "."); len(parts) == 3 {
				raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
				var claims struct {
					Sub string `json:"sub"`
				}
				_ = json.Unmarshal(raw, &claims)
				idp.mu.Lock()
				gone := idp.removed[claims.Sub]
				idp.mu.Unlock()
				if gone {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"the user is deactivated"}`)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (idp *testIdP) provider() sso.Provider {
	c := idp.Config()
	return sso.Provider{
		ID: "acme-idp", Label: "Acme IdP", Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		// mockoidc refuses offline_access but always issues a refresh token.
		Scopes: []string{"openid", "email", "profile"}, EmailClaim: "email", ClaimsSource: "id_token",
	}
}

// txtRecords answers the domains' TXT lookups.
type txtRecords map[string][]string

func (t txtRecords) LookupTXT(_ context.Context, name string) ([]string, error) {
	return t[name], nil
}

// sessionCall calls the API with a browser's cookies.
func sessionCall(t *testing.T, base, method, path string, cookies []*http.Cookie, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// browserCookies are the tab's cookies for the portal's host.
func (tb *tab) browserCookies(u string) []*http.Cookie {
	tb.t.Helper()
	res, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		tb.t.Fatalf("cookies: %v", err)
	}
	out := make([]*http.Cookie, 0, len(res.Cookies))
	for _, c := range res.Cookies {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return out
}

func auditCount(t *testing.T, e *portalEnv, action, where string, args ...any) int {
	t.Helper()
	var n int
	err := e.db.InTx(context.Background(), adminScope, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE action = '"+action+"' AND "+where, args...).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPortalSSO: an enterprise tenant proves its email domain and chooses
// its identity provider; a person of that domain signs in through the
// provider in headless Chromium and lands in the tenant with its default
// role (just in time); a person of another domain lands nowhere; "SSO
// required" refuses a member's password; removing the person at the
// provider ends their session at its next re-check.
func TestPortalSSO(t *testing.T) {
	idp := startIdP(t)
	prov := idp.provider()
	e := startPortal(t, func(c *config.Config) {
		c.OIDCProviders = []sso.Provider{prov}
		c.SSORecheckInterval = -1 // every request asks the provider
	})
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, e.db, e.kr, bootstrap.TenantInput{
		Name: "Globex", Tier: "enterprise", OwnerEmail: "owner@globex-hq.test", OwnerName: "Hank", OwnerPassword: "globex-password-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	portalMember(t, e, ten.ID, "pat@globex.test", "globex-password-2", "client_admin")
	owner := kratosBrowserLogin(t, e.kratosPublic, "owner@globex-hq.test", "globex-password-1")
	if code, v := sessionCall(t, e.URL, "GET", "/api/v1/sso", owner, ""); code != http.StatusOK || v["available"] != true || v["required"] != false {
		t.Fatalf("GET /api/v1/sso: %d %v", code, v)
	}

	// Claim the domain, publish the proof, verify.
	code, dom := sessionCall(t, e.URL, "POST", "/api/v1/sso/domains", owner, `{"domain":"Globex.test"}`)
	if code != http.StatusCreated || dom["domain"] != "globex.test" || dom["status"] != "pending" {
		t.Fatalf("claim: %d %v", code, dom)
	}
	proof := dom["proof"].(map[string]any)
	if proof["name"] != targets.DNSPrefix+"globex.test" || proof["type"] != "TXT" {
		t.Fatalf("proof %v", proof)
	}
	records := txtRecords{}
	e.server.SSO.TXT = records
	id := dom["id"].(string)
	code, dom = sessionCall(t, e.URL, "POST", "/api/v1/sso/domains/"+id+"/verify", owner, "")
	if code != http.StatusOK || dom["status"] != "pending" || !strings.Contains(dom["last_error"].(string), "no TXT record") && !strings.Contains(dom["last_error"].(string), "does not contain") {
		t.Fatalf("verify without the record: %d %v", code, dom)
	}
	records[proof["name"].(string)] = []string{"v=spf1 -all", proof["value"].(string)}
	code, dom = sessionCall(t, e.URL, "POST", "/api/v1/sso/domains/"+id+"/verify", owner, "")
	if code != http.StatusOK || dom["status"] != "verified" {
		t.Fatalf("verify: %d %v", code, dom)
	}
	// "SSO required" needs the provider first.
	if code, p := sessionCall(t, e.URL, "PATCH", "/api/v1/sso", owner, `{"required":true}`); code != http.StatusConflict {
		t.Fatalf("required without a provider: %d %v", code, p)
	}
	code, v := sessionCall(t, e.URL, "PATCH", "/api/v1/sso", owner, `{"provider":"acme-idp","default_role":"client_analyst"}`)
	if code != http.StatusOK || v["provider"] != "acme-idp" || v["default_role"] != "client_analyst" || v["available"] != true {
		t.Fatalf("settings: %d %v", code, v)
	}
	if code, p := sessionCall(t, e.URL, "PATCH", "/api/v1/sso", owner, `{"default_role":"client_owner"}`); code != http.StatusUnprocessableEntity && code != http.StatusBadRequest {
		t.Fatalf("owner as default role: %d %v", code, p)
	}

	// The owner's settings page shows it, and claims a second domain.
	ot := newTab(t)
	ot.signIn(e.kratosPublic, "owner@globex-hq.test", "globex-password-1")
	ot.open(e.URL + "/app/settings/sso")
	ot.waitFor(`!!document.querySelector('#sso-domains tr[data-domain="globex.test"]')`)
	ot.assertLabelled()
	if got := ot.text(`#sso-domains tr[data-domain="globex.test"] .sso-status`); !strings.Contains(got, "verified") {
		t.Errorf("globex.test status %q", got)
	}
	if !eval[bool](ot, `document.querySelector('#sso-provider').value === 'acme-idp' && document.querySelector('#sso-default-role').value === 'client_analyst'`) {
		t.Error("the page does not show the provider and role")
	}
	ot.typeInto("#sso-domain", "globex-labs.test")
	ot.click(`#sso-domain-add button[type=submit]`)
	ot.waitFor(`location.search === '?done=saved' && !!document.querySelector('#sso-domains tr[data-domain="globex-labs.test"]')`)
	if got := ot.text(`#sso-domains tr[data-domain="globex-labs.test"] .sso-proof`); !strings.HasPrefix(got, "secureops-verification=") {
		t.Errorf("proof shown %q", got)
	}
	ot.snap("settings-sso")

	// Ann signs in through the provider for the first time: she lands in
	// Globex as an analyst.
	idp.QueueUser(&mockoidc.MockUser{Subject: "sub-ann", Email: "ann@globex.test", EmailVerified: true})
	ann := newTab(t)
	ann.open(e.URL + "/auth/login")
	ann.waitPath("/auth/login")
	ann.assertLabelled()
	ann.click(`button[name="provider"][value="acme-idp"]`)
	ann.waitPath("/app")
	ann.snap("sso-first-sign-in")
	var role string
	err = e.db.InTx(ctx, adminScope, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id
			WHERE u.email = 'ann@globex.test' AND m.tenant_id = $1`, ten.ID).Scan(&role)
	})
	if err != nil || role != "client_analyst" {
		t.Fatalf("Ann's membership: %q %v", role, err)
	}
	if n := auditCount(t, e, "sso.jit_joined", "tenant_id = $1 AND details->>'email' = 'ann@globex.test'", ten.ID); n != 1 {
		t.Errorf("JIT joins audited: %d", n)
	}
	annCookies := ann.browserCookies(e.URL)
	code, me := sessionCall(t, e.URL, "GET", "/api/v1/me", annCookies, "")
	if code != http.StatusOK || !strings.Contains(toJSON(me), ten.ID.String()) || !strings.Contains(toJSON(me), "client_analyst") {
		t.Fatalf("Ann's /me: %d %v", code, me)
	}

	// Zed's domain belongs to no tenant: he lands on a page that says so,
	// with no account, tenant or membership.
	idp.QueueUser(&mockoidc.MockUser{Subject: "sub-zed", Email: "zed@initech.test", EmailVerified: true})
	zed := newTab(t)
	zed.open(e.URL + "/auth/login")
	zed.waitPath("/auth/login")
	zed.click(`button[name="provider"][value="acme-idp"]`)
	zed.waitFor(`location.pathname === '/auth/registration' && !!document.querySelector('#sso-refused')`)
	if got := zed.text("#sso-refused"); !strings.Contains(got, "initech.test") {
		t.Errorf("refusal page: %q", got)
	}
	if eval[bool](zed, `!!document.querySelector('form input[name=password], form input[name="traits.email"]')`) {
		t.Error("the refusal page offers a registration form")
	}
	zed.snap("sso-unknown-domain")
	var users, members int
	err = e.db.InTx(ctx, adminScope, func(ctx context.Context, tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE email LIKE '%initech.test'`).Scan(&users); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email LIKE '%initech.test'`).Scan(&members)
	})
	if err != nil || users != 0 || members != 0 {
		t.Fatalf("Zed: %d users, %d memberships, %v", users, members, err)
	}
	if found, _, err := e.kr.PublicAPI().FrontendAPI.ToSession(ctx).Cookie(cookieHeader(zed.browserCookies(e.URL))).Execute(); err == nil && found != nil && found.GetActive() {
		t.Errorf("Zed has a session")
	}

	// SSO required: Pat's password no longer signs her in.
	code, v = sessionCall(t, e.URL, "PATCH", "/api/v1/sso", owner, `{"required":true}`)
	if code != http.StatusOK || v["required"] != true {
		t.Fatalf("require SSO: %d %v", code, v)
	}
	pat := newTab(t)
	pat.open(e.URL + "/auth/login")
	pat.waitPath("/auth/login")
	pat.typeInto(`input[name="identifier"]`, "pat@globex.test")
	pat.typeInto(`input[name="password"]`, "globex-password-2")
	pat.click(`button[name="method"][value="password"]`)
	pat.waitFor(`location.pathname === '/auth/login' && document.body.innerText.includes('single sign-on')`)
	pat.snap("sso-password-refused")
	if n := auditCount(t, e, "sso.password_refused", "tenant_id = $1 AND details->>'email' = 'pat@globex.test'", ten.ID); n != 1 {
		t.Errorf("password refusals audited: %d", n)
	}
	// The owner, at another domain, keeps theirs.
	kratosBrowserLogin(t, e.kratosPublic, "owner@globex-hq.test", "globex-password-1")

	// Ann is removed at the provider: her next request re-checks, ends
	// her sessions, and is refused.
	if code, _ := sessionCall(t, e.URL, "GET", "/api/v1/findings", annCookies, ""); code != http.StatusOK {
		t.Fatalf("Ann before removal: %d", code)
	}
	idp.remove("sub-ann")
	code, p := sessionCall(t, e.URL, "GET", "/api/v1/findings", annCookies, "")
	if code != http.StatusUnauthorized || p["type"] != "/problems/sso-session-ended" {
		t.Fatalf("Ann after removal: %d %v", code, p)
	}
	if _, resp, _ := e.kr.PublicAPI().FrontendAPI.ToSession(ctx).Cookie(cookieHeader(annCookies)).Execute(); resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Ann's Kratos session survived: %v", resp)
	}
	if n := auditCount(t, e, "sso.session_ended", "tenant_id = $1", ten.ID); n != 1 {
		t.Errorf("ended sessions audited: %d", n)
	}
	ann.open(e.URL + "/app")
	ann.waitPath("/auth/login")
}

func cookieHeader(cs []*http.Cookie) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
