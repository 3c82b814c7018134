package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// TestClosestMembershipPerObject (issue 19 item 3): a user who is
// client_admin at P and client_readonly at its child C acts on C's objects
// with X-Tenant-Id: P as a reader, as when naming C; a suspended child's
// objects are refused through its parent as they are directly. Refusals are
// 403 problem JSON, and a bulk triage with one refused finding changes none.
func TestClosestMembershipPerObject(t *testing.T) {
	kr := startKratos(t)
	p := startWith(t, options{kratos: kr, noWorkers: true})
	ctx := context.Background()
	parent, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: "Parent Co"})
	if err != nil {
		t.Fatal(err)
	}
	f := fixtures{t: t, p: p, kr: kr}
	child := f.child(parent.ID, "active")
	other := f.child(parent.ID, "active") // suspended later; no membership of its own

	email, pw := "mixed@parent.example.test", "correct-horse-mixed"
	ident, err := kr.EnsureIdentity(ctx, email, "Mixed", pw, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: ident.ID, Email: email, Name: "Mixed"}); err != nil {
			return err
		}
		if _, err := db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: ident.ID, TenantID: parent.ID, Role: "client_admin"}); err != nil {
			return err
		}
		_, err := db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: ident.ID, TenantID: child, Role: "client_readonly"})
		return err
	})
	c := caller{session: login(t, kr, email, pw)}

	do := func(method, path, body string, tenant uuid.UUID) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, p.api.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("X-Tenant-Id", tenant.String())
		req.Header.Set("X-Session-Token", c.session)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusForbidden && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s %s: 403 as %q, want problem JSON", method, path, resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, string(b)
	}
	want := func(code int, method, path, body string, tenant uuid.UUID) {
		t.Helper()
		if got, b := do(method, path, body, tenant); got != code {
			t.Errorf("%s %s (X-Tenant-Id %s): %d %s, want %d", method, path, tenant, got, b, code)
		}
	}
	triage := `{"status":"accepted_risk","comment":"compensating control"}`

	// The direct request, as the issue saw it.
	fC := f.finding(child)
	want(http.StatusForbidden, "PATCH", "/api/v1/findings/"+fC.String(), triage, child)
	// Through the parent: the closest membership (readonly at C) wins.
	want(http.StatusOK, "GET", "/api/v1/findings/"+fC.String(), "", parent.ID)
	want(http.StatusForbidden, "PATCH", "/api/v1/findings/"+fC.String(), triage, parent.ID)
	want(http.StatusForbidden, "POST", "/api/v1/scans/"+f.startedScan(child).String()+"/cancel", "", parent.ID)
	want(http.StatusOK, "GET", "/api/v1/scans/"+f.scan(child).String(), "", parent.ID)
	want(http.StatusForbidden, "DELETE", "/api/v1/targets/"+f.target(child).String(), "", parent.ID)
	want(http.StatusForbidden, "POST", "/api/v1/targets/"+f.target(child).String()+"/verify", "", parent.ID)
	want(http.StatusForbidden, "DELETE", "/api/v1/schedules/"+f.schedule(child).String(), "", parent.ID)
	want(http.StatusForbidden, "POST", "/api/v1/schedules/"+f.schedule(child).String()+"/pause", "", parent.ID)
	want(http.StatusForbidden, "DELETE", "/api/v1/webhooks/"+f.webhook(child).String(), "", parent.ID)
	want(http.StatusForbidden, "POST", "/api/v1/tenants/"+child.String()+"/children", `{"name":"Grandchild"}`, parent.ID)

	// Bulk: one refused finding refuses all; the parent's own stays open.
	fP := f.finding(parent.ID)
	want(http.StatusForbidden, "PATCH", "/api/v1/findings", fmt.Sprintf(`{"ids":[%q,%q],"status":"false_positive"}`, fP, fC), parent.ID)
	var status string
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		row, err := db.Q.FindingGet(ctx, tx, fP)
		status = row.Status
		return err
	})
	if status == "false_positive" {
		t.Errorf("a refused bulk triage changed the parent's finding")
	}
	// The acting role still applies to the parent's own objects.
	want(http.StatusOK, "PATCH", "/api/v1/findings/"+fP.String(), triage, parent.ID)
	want(http.StatusAccepted, "POST", "/api/v1/scans/"+f.startedScan(parent.ID).String()+"/cancel", "", parent.ID)

	// An admin impersonating the user has the user's rights there too: the
	// child's closer membership applies below the impersonation's tenant.
	adm, err := kr.EnsureIdentity(ctx, "ops@reach.example.test", "Ops", "ops-password-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bootstrap.SetPlatformAdmin(ctx, p.db, adm.ID, adm.Email, "Ops"); err != nil {
		t.Fatal(err)
	}
	admin := caller{session: login(t, kr, adm.Email, "ops-password-1")}
	impReq, _ := http.NewRequest("POST", p.api.URL+"/api/v1/admin/impersonations",
		strings.NewReader(fmt.Sprintf(`{"user_id":%q,"reason":"ticket 7","minutes":5}`, ident.ID)))
	impReq.Header.Set("Content-Type", "application/json")
	impReq.Header.Set("X-Session-Token", admin.session)
	resp, err := http.DefaultClient.Do(impReq)
	if err != nil {
		t.Fatal(err)
	}
	var imp map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&imp)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || imp["tenant_id"] != parent.ID.String() {
		t.Fatalf("impersonation at the parent: %d %v", resp.StatusCode, imp)
	}
	asUser := func(method, path, body string, tenant uuid.UUID) int {
		t.Helper()
		req, _ := http.NewRequest(method, p.api.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if tenant != uuid.Nil {
			req.Header.Set("X-Tenant-Id", tenant.String())
		}
		req.Header.Set("X-Session-Token", admin.session)
		req.Header.Set("X-Impersonation", imp["token"].(string))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tenant := range []uuid.UUID{uuid.Nil, parent.ID, child} {
		if code := asUser("PATCH", "/api/v1/findings/"+fC.String(), triage, tenant); code != http.StatusForbidden {
			t.Errorf("impersonating, triaging the child's finding (X-Tenant-Id %s): %d, want 403", tenant, code)
		}
	}
	if code := asUser("PATCH", "/api/v1/findings/"+fP.String(), triage, uuid.Nil); code != http.StatusOK {
		t.Errorf("impersonating, triaging the parent's finding: %d, want 200", code)
	}

	// A suspended child: refused directly and through its parent, for
	// reads and writes, also without a membership of one's own there.
	fO, sO := f.finding(other), f.scan(other)
	want(http.StatusOK, "GET", "/api/v1/findings/"+fO.String(), "", parent.ID)
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE tenants SET status = 'suspended' WHERE id = ANY($1)", []uuid.UUID{other, child})
		return err
	})
	want(http.StatusForbidden, "GET", "/api/v1/findings/"+fC.String(), "", child)
	for _, id := range []uuid.UUID{fC, fO} {
		want(http.StatusForbidden, "GET", "/api/v1/findings/"+id.String(), "", parent.ID)
		want(http.StatusForbidden, "PATCH", "/api/v1/findings/"+id.String(), triage, parent.ID)
	}
	want(http.StatusForbidden, "GET", "/api/v1/scans/"+sO.String(), "", parent.ID)
	want(http.StatusForbidden, "GET", "/api/v1/scans/"+sO.String()+"/findings", "", parent.ID)
	want(http.StatusForbidden, "GET", "/api/v1/tenants/"+other.String(), "", parent.ID)
	want(http.StatusForbidden, "PATCH", "/api/v1/findings", fmt.Sprintf(`{"ids":[%q],"status":"false_positive"}`, fO), parent.ID)
}
