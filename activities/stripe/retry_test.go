package stripe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/stripemock"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// An activity retried after Stripe answered but before our database kept the
// answer (a crash, a lost connection) asks Stripe again with the same
// Idempotency-Key, so Stripe hands back the first customer and subscription
// instead of making second ones. The key is the business key: the activity's
// own attempt number or run id, which a retry or a reset changes, is not in it.
func TestStripeRetrySendsTheSameIdempotencyKey(t *testing.T) {
	bin, err := stripemock.FindBin()
	if err != nil {
		if os.Getenv("SECUREOPS_REQUIRE_TOOLS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx := context.Background()
	sm, err := stripemock.Start(ctx, stripemock.Options{Bin: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Stop()
	target, _ := url.Parse(sm.URL)
	var mu sync.Mutex
	keys := map[string][]string{} // path → Idempotency-Keys of POSTs
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			mu.Lock()
			keys[r.URL.Path] = append(keys[r.URL.Path], r.Header.Get("Idempotency-Key"))
			mu.Unlock()
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	defer proxy.Close()

	d := pgtest.New(t)
	super, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(ctx)
	tenant := uuid.New()
	if _, err := super.Exec(ctx, "INSERT INTO tenants (id, slug, name, status, tier) VALUES ($1, 'retry-co', 'Retry Co', 'onboarding', 'pro')", tenant); err != nil {
		t.Fatal(err)
	}
	a := &Activities{DB: d.OpenApp(t), API: NewAPI("", proxy.URL)}
	forget := func() { // the database lost what Stripe answered
		if _, err := super.Exec(ctx, "UPDATE tenants SET stripe_customer_id = NULL, stripe_subscription_id = NULL WHERE id = $1", tenant); err != nil {
			t.Fatal(err)
		}
	}
	cin := onboarding.CustomerInput{TenantID: tenant, CompanyName: "Retry Co", Email: "owner@retry.example", ContactName: "Owner", Attempt: 1}
	for range 2 {
		cust, err := a.CreateCustomer(ctx, cin)
		if err != nil || cust.CustomerID == "" {
			t.Fatalf("customer: %+v %v", cust, err)
		}
		sub, err := a.CreateSubscription(ctx, onboarding.SubscriptionInput{TenantID: tenant, Attempt: 1, CustomerID: cust.CustomerID, Tier: "pro"})
		if err != nil || sub.SubscriptionID == "" {
			t.Fatalf("subscription: %+v %v", sub, err)
		}
		forget()
	}
	// A new onboarding attempt (after a failed one was compensated) is a
	// new customer, under a new key.
	cin.Attempt = 2
	if _, err := a.CreateCustomer(ctx, cin); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	cust, subs := keys["/v1/customers"], keys["/v1/subscriptions"]
	if len(cust) != 3 || cust[0] == "" || cust[0] != cust[1] || cust[2] == cust[0] {
		t.Errorf("customer Idempotency-Keys %q: want the same key for the retry and another for attempt 2", cust)
	}
	if len(subs) != 2 || subs[0] == "" || subs[0] != subs[1] {
		t.Errorf("subscription Idempotency-Keys %q: want one key for both tries", subs)
	}
}
