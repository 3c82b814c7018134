package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	ory "github.com/ory/client-go"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"

	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/kratosdev"
)

// startKratos runs a real Kratos (memory store) for one test.
func startKratos(t *testing.T) *kratos.Client {
	t.Helper()
	bin, err := kratosdev.FindBin()
	if err != nil {
		if os.Getenv("SECUREOPS_REQUIRE_TOOLS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	p, err := kratosdev.Start(context.Background(), kratosdev.Options{Bin: bin, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	return kratos.New(p.PublicURL, p.AdminURL, nil, 0)
}

// login runs Kratos' native (API) password login and returns the session token.
func login(t *testing.T, kr *kratos.Client, email, password string) string {
	t.Helper()
	ctx := context.Background()
	pub := kr.PublicAPI()
	flow, _, err := pub.FrontendAPI.CreateNativeLoginFlow(ctx).Execute()
	if err != nil {
		t.Fatalf("login flow: %v", err)
	}
	res, _, err := pub.FrontendAPI.UpdateLoginFlow(ctx).Flow(flow.Id).UpdateLoginFlowBody(
		ory.UpdateLoginFlowWithPasswordMethodAsUpdateLoginFlowBody(&ory.UpdateLoginFlowWithPasswordMethod{
			Identifier: email, Password: password, Method: "password",
		})).Execute()
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	if res.SessionToken == nil {
		t.Fatalf("login %s: no session token", email)
	}
	return *res.SessionToken
}

// completeRecovery redeems a recovery code as the invited user's browser
// would (the emails carry browser flows, which the portal's /auth/recovery
// renders): a cookie jar, JSON with Accept: application/json. The code gives
// a session cookie and a settings flow, through which the password is set.
func completeRecovery(t *testing.T, kr *kratos.Client, link, code, password string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	flowID := u.Query().Get("flow")
	if flowID == "" {
		t.Fatalf("recovery link without flow: %s", link)
	}
	public := strings.TrimRight(kr.PublicAPI().GetConfig().Servers[0].URL, "/")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	do := func(method, path string, body any, out any) int {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, public+path, rd)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if out != nil {
			_ = json.Unmarshal(raw, out)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return resp.StatusCode
	}
	var rec struct {
		ContinueWith []struct {
			Action string `json:"action"`
			Flow   struct {
				ID string `json:"id"`
			} `json:"flow"`
		} `json:"continue_with"`
	}
	do("POST", "/self-service/recovery?flow="+url.QueryEscape(flowID), map[string]string{"method": "code", "code": code}, &rec)
	settings := ""
	for _, cw := range rec.ContinueWith {
		if cw.Action == "show_settings_ui" {
			settings = cw.Flow.ID
		}
	}
	if settings == "" {
		t.Fatalf("recovery did not continue with a settings flow: %+v", rec.ContinueWith)
	}
	var flow struct {
		UI struct {
			Nodes []struct {
				Attributes struct {
					Name  string `json:"name"`
					Value any    `json:"value"`
				} `json:"attributes"`
			} `json:"nodes"`
		} `json:"ui"`
	}
	do("GET", "/self-service/settings/flows?id="+url.QueryEscape(settings), nil, &flow)
	csrf := ""
	for _, n := range flow.UI.Nodes {
		if n.Attributes.Name == "csrf_token" {
			csrf, _ = n.Attributes.Value.(string)
		}
	}
	do("POST", "/self-service/settings?flow="+url.QueryEscape(settings),
		map[string]string{"method": "password", "password": password, "csrf_token": csrf}, nil)
}

// TestInviteRecoveryLogin: an owner invites a user; the invitation email
// carries a Kratos recovery link and code; the user redeems it, sets a
// password, logs in through Kratos' native API flow, and the API accepts the
// session token with the invited role.
func TestInviteRecoveryLogin(t *testing.T) {
	kr := startKratos(t)
	p := startWith(t, options{kratos: kr, noWorkers: true})
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, p.db, kr, bootstrap.TenantInput{
		Name: "Invite Co", OwnerEmail: "owner@invite.example.test", OwnerName: "Olga", OwnerPassword: "owner-password-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	owner := caller{role: auth.RoleClientOwner, session: login(t, kr, "owner@invite.example.test", "owner-password-1")}
	if code := owner.call(t, p, "POST", "/api/v1/users", `{"email":"Ana@Invite.example.test","name":"Ana","role":"client_analyst"}`, uuid.Nil); code != 201 {
		t.Fatalf("invite: %d", code)
	}
	// A second invitation of the same address is a conflict, not a second identity.
	if code := owner.call(t, p, "POST", "/api/v1/users", `{"email":"ana@invite.example.test","role":"client_analyst"}`, uuid.Nil); code != 409 {
		t.Fatalf("repeated invite: %d, want 409", code)
	}
	var mails []dbq.EmailOutbox
	if err := p.db.InTx(ctx, db.TenantScope(ten.ID), func(ctx context.Context, tx pgx.Tx) error {
		to := "ana@invite.example.test"
		mails, err = db.Q.EmailOutboxList(ctx, tx, dbq.EmailOutboxListParams{ToAddress: &to, Lim: 10})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(mails) != 1 {
		t.Fatalf("%d invitation emails, want 1", len(mails))
	}
	link := regexp.MustCompile(`https?://\S+flow=\S+`).FindString(mails[0].BodyText)
	code := regexp.MustCompile(`code (\d{6})`).FindStringSubmatch(mails[0].BodyText)
	if link == "" || code == nil {
		t.Fatalf("invitation lacks link or code:\n%s", mails[0].BodyText)
	}
	completeRecovery(t, kr, link, code[1], "ana-new-password-42")
	ana := caller{role: auth.RoleClientAnalyst, session: login(t, kr, "ana@invite.example.test", "ana-new-password-42")}

	req, _ := http.NewRequest("GET", p.api.URL+"/api/v1/me", nil)
	req.Header.Set("X-Session-Token", ana.session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&me)
	if resp.StatusCode != 200 || me["role"] != "client_analyst" || me["tenant_id"] != ten.ID.String() {
		t.Fatalf("me: %d %v", resp.StatusCode, me)
	}
	// Analysts may start scans but not manage users.
	if c := ana.call(t, p, "POST", "/api/v1/users", `{"email":"x@invite.example.test"}`, uuid.Nil); c != 403 {
		t.Errorf("analyst invite: %d, want 403", c)
	}
	// The audit log holds the invitation with its actor.
	var entries []dbq.AuditLog
	_ = p.db.InTx(ctx, db.TenantScope(ten.ID), func(ctx context.Context, tx pgx.Tx) error {
		a := "user.invited"
		entries, err = db.Q.AuditList(ctx, tx, dbq.AuditListParams{Action: &a, Lim: 10})
		return err
	})
	if len(entries) != 1 || !entries[0].ActorUserID.Valid || entries[0].ActorUserID.UUID != ten.OwnerID {
		t.Fatalf("audit entries %+v", entries)
	}
}

// TestImpersonationSuspensionAndRateLimit: a platform admin impersonates a
// user (acting with the user's rights, never creating keys, both actors
// audited), suspends the tenant (its keys stop working) and resumes it; and a
// caller over the rate limit gets 429 with Retry-After.
func TestImpersonationSuspensionAndRateLimit(t *testing.T) {
	kr := startKratos(t)
	p := startWith(t, options{kratos: kr, noWorkers: true, rateLimit: 1000})
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, p.db, kr, bootstrap.TenantInput{
		Name: "Help Me Ltd", OwnerEmail: "owner@helpme.example.test", OwnerPassword: "owner-password-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	adm, err := kr.EnsureIdentity(ctx, "ops@secureops.example.test", "Ops", "ops-password-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bootstrap.SetPlatformAdmin(ctx, p.db, adm.ID, adm.Email, "Ops"); err != nil {
		t.Fatal(err)
	}
	admin := caller{role: auth.RolePlatformAdmin, session: login(t, kr, adm.Email, "ops-password-1")}

	doJSON := func(c caller, method, path, body string, hdr map[string]string) (int, map[string]any, http.Header) {
		req, _ := http.NewRequest(method, p.api.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.session != "" {
			req.Header.Set("X-Session-Token", c.session)
		}
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out, resp.Header
	}

	code, imp, _ := doJSON(admin, "POST", "/api/v1/admin/impersonations",
		fmt.Sprintf(`{"user_id":%q,"reason":"ticket 42: cannot see scans","minutes":10}`, ten.OwnerID), nil)
	if code != 201 || imp["token"] == nil {
		t.Fatalf("start impersonation: %d %v", code, imp)
	}
	as := map[string]string{"X-Impersonation": imp["token"].(string)}
	code, me, _ := doJSON(admin, "GET", "/api/v1/me", "", as)
	if code != 200 || me["impersonating"] != true || me["user_id"] != ten.OwnerID.String() || me["real_user_id"] != adm.ID.String() || me["platform_admin"] != false {
		t.Fatalf("me while impersonating: %d %v", code, me)
	}
	if code, _, _ := doJSON(admin, "POST", "/api/v1/api-keys", `{"role":"client_readonly"}`, as); code != 403 {
		t.Errorf("API key creation while impersonating: %d, want 403", code)
	}
	if code, _, _ := doJSON(admin, "POST", "/api/v1/webhooks", `{"url":"http://127.0.0.1:9/hook"}`, as); code != 403 {
		t.Errorf("webhook creation while impersonating: %d, want 403", code)
	}
	if code, _, _ := doJSON(admin, "POST", "/api/v1/users", `{"email":"backdoor@example.test","role":"client_owner"}`, as); code != 403 {
		t.Errorf("inviting while impersonating: %d, want 403", code)
	}
	if code, _, _ := doJSON(admin, "POST", "/api/v1/scans", `{"target":"127.0.0.1:9"}`, as); code != 202 {
		t.Fatalf("starting a scan for the user while impersonating: %d", code)
	}
	// The token is bound to the admin who started it.
	owner := caller{session: login(t, kr, "owner@helpme.example.test", "owner-password-1")}
	if code, _, _ := doJSON(owner, "GET", "/api/v1/me", "", as); code != 403 {
		t.Errorf("impersonation token with a non-admin session: %d, want 403", code)
	}
	var entries []dbq.AuditLog
	_ = p.db.InTx(ctx, db.TenantScope(ten.ID), func(ctx context.Context, tx pgx.Tx) error {
		a := "scan.started"
		entries, err = db.Q.AuditList(ctx, tx, dbq.AuditListParams{Action: &a, Lim: 10})
		return err
	})
	if len(entries) != 1 || entries[0].ActorUserID.UUID != adm.ID || entries[0].EffectiveUserID.UUID != ten.OwnerID || !entries[0].ImpersonationID.Valid {
		t.Fatalf("audit of an impersonated change: %+v", entries)
	}

	// Suspension: the tenant's API keys stop working until it is resumed.
	key, _, err := bootstrap.CreateAPIKey(ctx, p.db, ten.Slug, auth.RoleClientReadonly, nil, "ci")
	if err != nil {
		t.Fatal(err)
	}
	ci := caller{key: key}
	if code, _, _ := doJSON(ci, "GET", "/api/v1/me", "", nil); code != 200 {
		t.Fatalf("key before suspension: %d", code)
	}
	if code, _, _ := doJSON(admin, "POST", "/api/v1/admin/tenants/"+ten.ID.String()+"/suspend", "", nil); code != 200 {
		t.Fatalf("suspend: %d", code)
	}
	if code, _, _ := doJSON(ci, "GET", "/api/v1/me", "", nil); code != 403 {
		t.Errorf("key of a suspended tenant: %d, want 403", code)
	}
	if code, _, _ := doJSON(admin, "POST", "/api/v1/admin/tenants/"+ten.ID.String()+"/resume", "", nil); code != 200 {
		t.Fatalf("resume: %d", code)
	}
	if code, _, _ := doJSON(ci, "GET", "/api/v1/me", "", nil); code != 200 {
		t.Errorf("key after resume: %d", code)
	}
	// A revoked key is refused at once.
	code, list, _ := doJSON(owner, "GET", "/api/v1/api-keys", "", nil)
	if code != 200 {
		t.Fatalf("list keys: %d", code)
	}
	for _, it := range list["items"].([]any) {
		k := it.(map[string]any)
		if k["name"] == "ci" {
			if c, _, _ := doJSON(owner, "DELETE", "/api/v1/api-keys/"+k["id"].(string), "", nil); c != 204 {
				t.Fatalf("revoke: %d", c)
			}
		}
	}
	if code, _, _ := doJSON(ci, "GET", "/api/v1/me", "", nil); code != 401 {
		t.Errorf("revoked key: %d, want 401", code)
	}

	// An admin key still cannot mint keys or invite people.
	adminKey, _, err := bootstrap.CreateAPIKey(ctx, p.db, ten.Slug, auth.RoleClientAdmin, nil, "admin-key")
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := doJSON(caller{key: adminKey}, "POST", "/api/v1/api-keys", `{"role":"client_admin"}`, nil); code != 403 {
		t.Errorf("key creating a key: %d, want 403", code)
	}
	// A suspended sub-tenant is closed also to roles inherited from above.
	code, child, _ := doJSON(owner, "POST", "/api/v1/tenants/"+ten.ID.String()+"/children", `{"name":"Branch Office"}`, nil)
	if code != 201 {
		t.Fatalf("create child: %d %v", code, child)
	}
	if code, _, _ := doJSON(owner, "POST", "/api/v1/tenants/"+ten.ID.String()+"/children", `{"name":"Upgrade","tier":"enterprise"}`, nil); code != 403 {
		t.Errorf("child above the parent's tier: %d, want 403", code)
	}
	inChild := map[string]string{"X-Tenant-Id": child["id"].(string)}
	if code, _, _ := doJSON(owner, "GET", "/api/v1/teams", "", inChild); code != 200 {
		t.Fatalf("owner in child: %d", code)
	}
	if code, _, _ := doJSON(admin, "POST", "/api/v1/admin/tenants/"+child["id"].(string)+"/suspend", "", nil); code != 200 {
		t.Fatalf("suspend child: %d", code)
	}
	if code, _, _ := doJSON(owner, "GET", "/api/v1/teams", "", inChild); code != 403 {
		t.Errorf("owner in suspended child: %d, want 403", code)
	}

	// Rate limit: per key, 429 with Retry-After once the budget is spent.
	key2, _, _ := bootstrap.CreateAPIKey(ctx, p.db, ten.Slug, auth.RoleClientReadonly, nil, "busy")
	busy := caller{key: key2}
	var last int
	var hdr http.Header
	// Up to twice the budget: httprate's sliding window weighs the previous
	// minute's requests down when the loop crosses a minute boundary, so
	// 1,001 requests are not always over it.
	for i := 0; i < 2000 && last != 429; i++ {
		last, _, hdr = doJSON(busy, "GET", "/api/v1/me", "", nil)
	}
	if last != 429 || hdr.Get("Retry-After") == "" {
		t.Fatalf("after the budget: %d Retry-After=%q", last, hdr.Get("Retry-After"))
	}
	// Another caller is unaffected.
	if code, _, _ := doJSON(owner, "GET", "/api/v1/me", "", nil); code != 200 {
		t.Errorf("another caller during someone's rate limit: %d", code)
	}
	// Guessing keys from one address is throttled too.
	forged := caller{key: key2[:len(key2)-8] + "00000000"}
	last = 0
	for i := 0; i < 70 && last != 429; i++ {
		last, _, hdr = doJSON(forged, "GET", "/api/v1/me", "", nil)
	}
	if last != 429 || hdr.Get("Retry-After") == "" {
		t.Fatalf("after 70 failed authentications: %d", last)
	}
}
