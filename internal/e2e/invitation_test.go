package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// TestInvitingAnExistingAccount (issue 19 item 13): inviting a person who
// has an account (here the owner of another tenant) adds nothing until they
// accept the emailed invitation, signed in as themselves.
func TestInvitingAnExistingAccount(t *testing.T) {
	kr := startKratos(t)
	p := startWith(t, options{kratos: kr, noWorkers: true})
	ctx := context.Background()
	a, err := bootstrap.CreateTenant(ctx, p.db, kr, bootstrap.TenantInput{Name: "Inviter Co", OwnerEmail: "owner@inviter.example.test", OwnerPassword: "owner-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bootstrap.CreateTenant(ctx, p.db, kr, bootstrap.TenantInput{Name: "Invitee Co", OwnerEmail: "bob@invitee.example.test", OwnerPassword: "bob-password-1"}); err != nil {
		t.Fatal(err)
	}
	owner := caller{session: login(t, kr, "owner@inviter.example.test", "owner-password-1")}
	bob := caller{session: login(t, kr, "bob@invitee.example.test", "bob-password-1")}
	do := func(c caller, method, path, body string, tenant uuid.UUID) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, p.api.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if tenant != uuid.Nil {
			req.Header.Set("X-Tenant-Id", tenant.String())
		}
		req.Header.Set("X-Session-Token", c.session)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}

	code, inv := do(owner, "POST", "/api/v1/users", `{"email":"bob@invitee.example.test","role":"client_analyst"}`, uuid.Nil)
	if code != http.StatusAccepted || inv["status"] != "pending" || inv["tenant_id"] != a.ID.String() {
		t.Fatalf("inviting an existing account: %d %v, want 202 pending", code, inv)
	}
	if code, _ := do(bob, "GET", "/api/v1/me", "", a.ID); code != http.StatusNotFound {
		t.Errorf("the invitee acts in the inviting tenant before accepting: %d, want 404", code)
	}
	_, list := do(owner, "GET", "/api/v1/users", "", uuid.Nil)
	for _, it := range list["items"].([]any) {
		if it.(map[string]any)["email"] == "bob@invitee.example.test" {
			t.Errorf("the invitee is listed as a member before accepting")
		}
	}

	var body string
	if err := p.db.InTx(ctx, adminScope, func(ctx context.Context, tx pgx.Tx) error {
		to := "bob@invitee.example.test"
		rows, err := db.Q.EmailOutboxListAll(ctx, tx, dbq.EmailOutboxListAllParams{ToAddress: &to, TenantID: uuid.NullUUID{UUID: a.ID, Valid: true}, Lim: 10})
		if len(rows) == 1 {
			body = rows[0].BodyText
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`/api/v1/invitations/(inv_[A-Za-z0-9_-]+)/accept`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("invitation email without a token: %q", body)
	}
	accept := "/api/v1/invitations/" + m[1] + "/accept"

	if code, _ := do(owner, "POST", accept, "", uuid.Nil); code != http.StatusNotFound {
		t.Errorf("another account accepting: %d, want 404", code)
	}
	if code, _ := do(bob, "POST", "/api/v1/invitations/inv_nope/accept", "", uuid.Nil); code != http.StatusNotFound {
		t.Errorf("an unknown token: %d, want 404", code)
	}
	code, mem := do(bob, "POST", accept, "", uuid.Nil)
	if code != http.StatusOK || mem["tenant_id"] != a.ID.String() || mem["role"] != "client_analyst" {
		t.Fatalf("accept: %d %v", code, mem)
	}
	if code, me := do(bob, "GET", "/api/v1/me", "", a.ID); code != http.StatusOK || me["role"] != "client_analyst" {
		t.Errorf("the invitee after accepting: %d %v", code, me)
	}
	if code, _ := do(bob, "POST", accept, "", uuid.Nil); code != http.StatusConflict {
		t.Errorf("accepting twice: %d, want 409", code)
	}
	if code, _ := do(owner, "POST", "/api/v1/users", `{"email":"bob@invitee.example.test"}`, uuid.Nil); code != http.StatusConflict {
		t.Errorf("inviting a member: %d, want 409", code)
	}
}
