package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// A tenant's consent to LLM triage: owners (users:manage) set it, analysts
// may not, and it lands in tenants.settings where llmtriage reads it.
func TestTriageSettingsOptIn(t *testing.T) {
	kr := startKratos(t)
	p := startWith(t, options{kratos: kr, noWorkers: true})
	ctx := context.Background()
	ident, err := kr.EnsureIdentity(ctx, "owner@acme.example.test", "Owner", "correct-horse-owner", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.seed(t, p.tenant, func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: ident.ID, Email: "owner@acme.example.test", Name: "Owner"}); err != nil {
			return err
		}
		_, err := db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: ident.ID, TenantID: p.tenant, Role: "client_owner"})
		return err
	})
	owner := login(t, kr, "owner@acme.example.test", "correct-horse-owner")
	optedIn := func() bool {
		var in bool
		p.seed(t, p.tenant, func(ctx context.Context, tx pgx.Tx) (err error) {
			in, err = db.Q.LLMTriageOptIn(ctx, tx, p.tenant)
			return err
		})
		return in
	}
	if optedIn() {
		t.Fatal("a new tenant is opted in")
	}
	if code, _ := p.do(t, "PATCH", "/api/v1/triage/settings", "application/json", `{"llm_opt_in":true}`); code != http.StatusForbidden {
		t.Errorf("analyst opts in: %d, want 403", code)
	}
	for _, bad := range []string{`{}`, `{"llm_opt_in":null}`, `{"llm_opt_in":"yes"}`, `{"llm_opt_in":1}`, `{"other":true}`, `[]`} {
		if code := p.sessionDo(t, owner, "PATCH", "/api/v1/triage/settings", bad, nil); code != http.StatusBadRequest {
			t.Errorf("PATCH %s: %d, want 400", bad, code)
		}
	}
	var got struct {
		LLMOptIn bool `json:"llm_opt_in"`
	}
	if code := p.sessionDo(t, owner, "PATCH", "/api/v1/triage/settings", `{"llm_opt_in":true}`, &got); code != http.StatusOK || !got.LLMOptIn || !optedIn() {
		t.Fatalf("opt in: %d %+v", code, got)
	}
	if code := p.sessionDo(t, owner, "PATCH", "/api/v1/triage/settings", `{"llm_opt_in":false}`, &got); code != http.StatusOK || got.LLMOptIn || optedIn() {
		t.Fatalf("opt out: %d %+v", code, got)
	}
	var audited int
	p.seed(t, p.tenant, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE action = 'tenant.llm_opt_in_updated'").Scan(&audited)
	})
	if audited != 2 {
		t.Errorf("%d audit entries, want 2", audited)
	}
}
