package db_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

// Just-in-time membership needs all of: a verified domain, the enterprise
// tier, a usable tenant and the tenant's own provider; it happens once, is
// audited, keeps a membership the person already has, and joins nobody
// whose address another account holds. A domain is verified by one tenant.
func TestSSOJoinRules(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	owner := ownerConn(t, d.SuperDSN)
	app := d.OpenApp(t)
	ten := seedTenant(t, owner, "sso-co")
	other := seedTenant(t, owner, "sso-other")
	mustExec := func(sql string, args ...any) {
		t.Helper()
		if _, err := owner.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(`INSERT INTO sso_domains (tenant_id, domain, token, status) VALUES ($1, 'sso.example', 't', 'verified'), ($1, 'pending.example', 't', 'pending')`, ten)
	mustExec(`INSERT INTO sso_settings (tenant_id, default_role, provider) VALUES ($1, 'client_analyst', 'okta')`, ten)
	join := func(user uuid.UUID, email, provider string) []dbq.AuthSSOJoinRow {
		t.Helper()
		var rows []dbq.AuthSSOJoinRow
		err := app.Auth(ctx, func(ctx context.Context, tx pgx.Tx) (err error) {
			rows, err = db.Q.AuthSSOJoin(ctx, tx, dbq.AuthSSOJoinParams{UserID: user, Email: email, Name: "N", Provider: provider, Ip: "192.0.2.1"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	ann := uuid.New()
	// Basic tier: nothing.
	if rows := join(ann, "ann@sso.example", "okta"); len(rows) != 0 {
		t.Fatalf("a basic tenant's domain joined: %v", rows)
	}
	mustExec(`UPDATE tenants SET tier = 'enterprise' WHERE id = $1`, ten)
	for _, c := range []struct{ email, provider string }{
		{"ann@pending.example", "okta"}, {"ann@unknown.example", "okta"}, {"ann@sso.example", "other-idp"}, {"ann@sso.example", ""},
	} {
		if rows := join(ann, c.email, c.provider); len(rows) != 0 {
			t.Errorf("%s through %q joined: %v", c.email, c.provider, rows)
		}
	}
	rows := join(ann, "Ann@SSO.example", "okta")
	if len(rows) != 1 || rows[0].TenantID != ten || rows[0].Role != "client_analyst" || !rows[0].Joined {
		t.Fatalf("first sign-in: %v", rows)
	}
	// Again, after an owner promoted her: kept as it is, not audited twice.
	mustExec(`UPDATE memberships SET role = 'client_admin' WHERE user_id = $1`, ann)
	if rows := join(ann, "ann@sso.example", "okta"); len(rows) != 1 || rows[0].Joined || rows[0].Role != "client_admin" {
		t.Fatalf("second sign-in: %v", rows)
	}
	var audits int
	if err := owner.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'sso.jit_joined'`, ten).Scan(&audits); err != nil || audits != 1 {
		t.Fatalf("audited joins %d %v", audits, err)
	}
	// Another account holds the address: nothing joins.
	if rows := join(uuid.New(), "ann@sso.example", "okta"); len(rows) != 0 {
		t.Fatalf("a second account of the address joined: %v", rows)
	}
	// A suspended tenant takes nobody in.
	mustExec(`UPDATE tenants SET status = 'suspended' WHERE id = $1`, ten)
	if rows := join(uuid.New(), "bob@sso.example", "okta"); len(rows) != 0 {
		t.Fatalf("a suspended tenant joined: %v", rows)
	}
	// One tenant verifies a domain.
	if _, err := owner.Exec(ctx, `INSERT INTO sso_domains (tenant_id, domain, token, status) VALUES ($1, 'sso.example', 'u', 'verified')`, other); err == nil {
		t.Fatal("a second tenant verified the same domain")
	}
}
