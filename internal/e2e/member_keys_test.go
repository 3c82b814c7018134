package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// TestMemberKeysFollowTheMember (issue 19 item 12): demoting a member
// revokes the keys they created that exceed the new role, removing them
// revokes the rest, each revocation audited.
func TestMemberKeysFollowTheMember(t *testing.T) {
	kr := startKratos(t)
	p := startWith(t, options{kratos: kr, noWorkers: true})
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, p.db, kr, bootstrap.TenantInput{
		Name: "Keys Ltd", OwnerEmail: "owner@keys.example.test", OwnerPassword: "owner-password-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	f := fixtures{t: t, p: p, kr: kr}
	email, pw := "admin@keys.example.test", "admin-password-1"
	ident, err := kr.EnsureIdentity(ctx, email, "Admin", pw, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: ident.ID, Email: email, Name: "Admin"}); err != nil {
			return err
		}
		_, err := db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: ident.ID, TenantID: ten.ID, Role: "client_admin"})
		return err
	})
	owner := caller{session: login(t, kr, "owner@keys.example.test", "owner-password-1")}
	admin := caller{session: login(t, kr, email, pw)}

	do := func(c caller, method, path, body string) (int, map[string]any) {
		t.Helper()
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
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	newKey := func(role string) caller {
		t.Helper()
		code, out := do(admin, "POST", "/api/v1/api-keys", `{"name":"`+role+`","role":"`+role+`"}`)
		if code != http.StatusCreated {
			t.Fatalf("create %s key: %d %v", role, code, out)
		}
		return caller{key: out["key"].(string)}
	}
	analystKey, readerKey := newKey("client_analyst"), newKey("client_readonly")
	ownerKey := func() caller { // a key the owner made stays through all of this
		code, out := do(owner, "POST", "/api/v1/api-keys", `{"name":"owner","role":"client_analyst"}`)
		if code != http.StatusCreated {
			t.Fatalf("owner key: %d %v", code, out)
		}
		return caller{key: out["key"].(string)}
	}()
	works := func(name string, c caller, want int) {
		t.Helper()
		if code, _ := do(c, "GET", "/api/v1/me", ""); code != want {
			t.Errorf("%s: %d, want %d", name, code, want)
		}
	}
	works("analyst key before", analystKey, 200)
	works("reader key before", readerKey, 200)

	if code, out := do(owner, "PATCH", "/api/v1/users/"+ident.ID.String(), `{"role":"client_readonly"}`); code != 200 {
		t.Fatalf("demote: %d %v", code, out)
	}
	works("analyst key after the demotion to readonly", analystKey, 401)
	works("reader key after the demotion to readonly", readerKey, 200)
	works("owner's key after the demotion", ownerKey, 200)

	if code, out := do(owner, "DELETE", "/api/v1/users/"+ident.ID.String(), ""); code != 204 {
		t.Fatalf("remove: %d %v", code, out)
	}
	works("reader key after the removal", readerKey, 401)
	works("owner's key after the removal", ownerKey, 200)

	var entries []dbq.AuditLog
	_ = p.db.InTx(ctx, db.TenantScope(ten.ID), func(ctx context.Context, tx pgx.Tx) error {
		a := "apikey.revoked"
		entries, err = db.Q.AuditList(ctx, tx, dbq.AuditListParams{Action: &a, Lim: 10})
		return err
	})
	reasons := map[string]bool{}
	for _, e := range entries {
		var d map[string]any
		_ = json.Unmarshal(e.Details, &d)
		reasons[d["reason"].(string)] = true
		if e.ActorUserID.UUID != ten.OwnerID {
			t.Errorf("revocation audited with actor %v, want the owner", e.ActorUserID)
		}
	}
	if len(entries) != 2 || !reasons["creator demoted to client_readonly"] || !reasons["creator removed"] {
		t.Errorf("audit of the revocations: %d entries, reasons %v", len(entries), reasons)
	}
}
