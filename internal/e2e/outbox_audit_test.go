package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// TestOutboxReadsAudited (issue 19 item 5): a platform admin's outbox read
// is audited in the log of each tenant whose emails it returned.
func TestOutboxReadsAudited(t *testing.T) {
	kr := startKratos(t)
	p := startWith(t, options{kratos: kr, noWorkers: true})
	ctx := context.Background()
	other, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: "Other Mail Co"})
	if err != nil {
		t.Fatal(err)
	}
	f := fixtures{t: t, p: p, kr: kr}
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		for _, ten := range []uuid.UUID{p.tenant, other.ID} {
			if _, err := db.Q.EmailOutboxInsert(ctx, tx, dbq.EmailOutboxInsertParams{TenantID: ten, IdempotencyKey: "test/" + ten.String(),
				ToAddress: "someone@mail.example.test", Subject: "Recover", BodyText: "code 123456"}); err != nil {
				return err
			}
		}
		return nil
	})
	adm, err := kr.EnsureIdentity(ctx, "ops@mail.example.test", "Ops", "ops-password-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bootstrap.SetPlatformAdmin(ctx, p.db, adm.ID, adm.Email, "Ops"); err != nil {
		t.Fatal(err)
	}
	admin := caller{session: login(t, kr, adm.Email, "ops-password-1")}
	if code := admin.call(t, p, "GET", "/api/v1/admin/outbox?to=someone@mail.example.test", "", uuid.Nil); code != http.StatusOK {
		t.Fatalf("outbox: %d", code)
	}
	for _, ten := range []uuid.UUID{p.tenant, other.ID} {
		var entries []dbq.AuditLog
		_ = p.db.InTx(ctx, db.TenantScope(ten), func(ctx context.Context, tx pgx.Tx) error {
			a := "outbox.read"
			entries, err = db.Q.AuditList(ctx, tx, dbq.AuditListParams{Action: &a, Lim: 10})
			return err
		})
		if len(entries) != 1 || entries[0].ActorUserID.UUID != adm.ID {
			t.Errorf("tenant %s: outbox read audit %+v, want one entry by the admin", ten, entries)
			continue
		}
		var d map[string]any
		_ = json.Unmarshal(entries[0].Details, &d)
		if ids, _ := d["emails"].([]any); len(ids) != 1 {
			t.Errorf("audit details %v, want the one email id of the tenant", d)
		}
	}
}
