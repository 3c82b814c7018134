package payments

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The events `secureops billing event` posts verify as Stripe's would and
// name the tenant's customer and the object the cycle re-reads.
func TestEventsVerifyAndNameTheirObject(t *testing.T) {
	const secret = "whsec_unit"
	for typ, want := range map[string]string{
		billing.EventInvoicePaid: "invoice", billing.EventInvoicePaymentFailed: "invoice",
		billing.EventSubscriptionUpdated: "subscription", billing.EventSubscriptionDeleted: "subscription",
		billing.EventTrialWillEnd: "subscription", billing.EventCheckoutCompleted: "checkout.session",
	} {
		body, err := Event(EventSpec{Type: typ, CustomerID: "cus_1", SubscriptionID: "sub_1", Plan: "pro", TrialEnd: time.Now().Add(72 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := webhook.ConstructEventWithOptions(body, Sign(body, secret, time.Now()), secret, webhook.ConstructEventOptions{})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		id, object, customer, _ := ObjectOf(ev)
		if string(ev.Type) != typ || object != want || customer != "cus_1" || id == "" {
			t.Errorf("%s: %s %s %s", typ, id, object, customer)
		}
	}
	if _, err := Event(EventSpec{Type: "charge.refunded"}); err == nil {
		t.Error("an unsupported type was built")
	}
	body, _ := Event(EventSpec{Type: billing.EventSubscriptionUpdated, CustomerID: "cus_1", SubscriptionID: "sub_1", Plan: "enterprise"})
	ev, _ := webhook.ConstructEventWithOptions(body, Sign(body, secret, time.Now()), secret, webhook.ConstructEventOptions{})
	if snap := snapshotOf(t, ev.Data.Raw); snap.Plan != "enterprise" || snap.SubStatus != "active" || snap.PeriodEnd == nil {
		t.Errorf("subscription snapshot %+v", snap)
	}
}

// A billing hold on a tenant stops its sub-tenants' scans too, with 402's
// kind; none without a hold.
func TestHoldCoversSubTenants(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t).OpenApp(t)
	parent, err := bootstrap.CreateTenant(ctx, d, nil, bootstrap.TenantInput{Name: "Reseller"})
	if err != nil {
		t.Fatal(err)
	}
	child, err := bootstrap.CreateTenant(ctx, d, nil, bootstrap.TenantInput{Name: "Customer", ParentSlug: parent.Slug})
	if err != nil {
		t.Fatal(err)
	}
	hold := func(tenant uuid.UUID) error {
		return d.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error { return Hold(ctx, tx, tenant) })
	}
	set := func(status string) {
		if err := d.InTx(ctx, db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
			return db.Q.BillingStateUpsert(ctx, tx, dbq.BillingStateUpsertParams{TenantID: parent.ID, Status: status, Plan: "pro", State: []byte(`{}`), Version: time.Now().UnixNano()})
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := hold(child.ID); err != nil {
		t.Fatalf("no billing row: %v", err)
	}
	set(billing.StatusPastDue)
	if err := hold(child.ID); err != nil {
		t.Fatalf("past due still scans: %v", err)
	}
	for _, st := range []string{billing.StatusSuspended, billing.StatusCancelled} {
		set(st)
		for _, ten := range []uuid.UUID{parent.ID, child.ID} {
			if err := hold(ten); !domainerr.Is(err, domainerr.PaymentRequired) {
				t.Errorf("%s: %v", st, err)
			}
		}
	}
	set(billing.StatusActive)
	if err := hold(child.ID); err != nil {
		t.Errorf("active again: %v", err)
	}
}

func snapshotOf(t *testing.T, raw []byte) billing.Snapshot {
	t.Helper()
	var s stripego.Subscription
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return Subscription(&s)
}
