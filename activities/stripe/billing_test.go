package stripe

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/payments"
	"github.com/secureops/secureops/internal/stripemock"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

type stripeCall struct {
	path, key string
	form      url.Values
}

// The billing activities against stripe-mock, behind a proxy recording each
// POST: meter events once per completed scan (a second run sends nothing),
// re-reads that fall back to the stored event when stripe-mock answers about
// another customer, a prorated upgrade and the sessions under business keys,
// and the period's reconciliation.
func TestBillingActivitiesAgainstStripeMock(t *testing.T) {
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
	var posts []stripeCall
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			form, _ := url.ParseQuery(string(body))
			mu.Lock()
			posts = append(posts, stripeCall{r.URL.Path, r.Header.Get("Idempotency-Key"), form})
			mu.Unlock()
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	defer proxy.Close()
	calls := func(path string) []stripeCall {
		mu.Lock()
		defer mu.Unlock()
		var out []stripeCall
		for _, c := range posts {
			if strings.HasPrefix(c.path, path) {
				out = append(out, c)
			}
		}
		return out
	}

	d := pgtest.New(t)
	super, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(ctx)
	tenant, scanID := uuid.New(), uuid.New()
	for _, q := range []string{
		"INSERT INTO tenants (id, slug, name, status, tier, stripe_customer_id, stripe_subscription_id) VALUES ($1, 'bill-co', 'Bill Co', 'active', 'pro', 'cus_bill', 'sub_bill')",
		"INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, status, started_at, finished_at) VALUES ($2, $1, 'example.com', '{nmap}', 'scan/x', 'completed', now() - interval '1 minute', now())",
		"INSERT INTO usage_events (tenant_id, scan_id, source, scanners, target, finished_at, duration_ms, status) VALUES ($1, $2, 'scan', '{nmap}', 'example.com', now(), 60000, 'completed')",
	} {
		args := []any{tenant, scanID}
		if !strings.Contains(q, "$2") {
			args = args[:1]
		}
		if _, err := super.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	a := &Activities{DB: d.OpenApp(t), API: NewAPI("", proxy.URL), PublicURL: "http://portal.test"}

	// Meter events: one per completed scan, then nothing.
	for i, want := range []int{1, 0} {
		res, err := a.BillingMeter(ctx, billing.MeterInput{TenantID: tenant, CustomerID: "cus_bill"})
		if err != nil || res.Sent != want {
			t.Fatalf("meter run %d: %+v %v", i, res, err)
		}
	}
	if m := calls("/v1/billing/meter_events"); len(m) != 1 || m[0].key != billing.IdempotencyKey(tenant, "meter", scanID.String()) ||
		m[0].form.Get("identifier") != scanID.String() || m[0].form.Get("event_name") != "scan_completed" {
		t.Errorf("meter events %+v", m)
	}

	// A re-read answered by a fixture of another customer: the stored event's copy.
	body, err := payments.Event(payments.EventSpec{Type: billing.EventInvoicePaymentFailed, CustomerID: "cus_bill", SubscriptionID: "sub_bill", ObjectID: "in_bill", Plan: "pro"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := super.Exec(ctx, "INSERT INTO stripe_events (id, tenant_id, type, object_id, created, payload) VALUES ('evt_bill', $1, 'invoice.payment_failed', 'in_bill', now(), $2)", tenant, body); err != nil {
		t.Fatal(err)
	}
	snap, err := a.BillingFetch(ctx, billing.FetchInput{TenantID: tenant, CustomerID: "cus_bill",
		Event: billing.Event{ID: "evt_bill", Type: billing.EventInvoicePaymentFailed, ObjectID: "in_bill", Created: time.Now().Unix()}})
	if err != nil || !snap.FromEvent || snap.Invoice == nil || snap.Invoice.ID != "in_bill" || snap.Invoice.Status != "open" ||
		!strings.Contains(snap.Invoice.HostedURL, "in_bill") {
		t.Errorf("invoice snapshot %+v %v", snap, err)
	}
	snap, err = a.BillingFetch(ctx, billing.FetchInput{TenantID: tenant, CustomerID: "cus_bill", Event: billing.Event{Type: "sync", ObjectID: "sub_bill"}})
	if err != nil || snap.ObjectID != "" {
		t.Errorf("a fixture about another customer was taken for the subscription: %+v %v", snap, err)
	}

	// An upgrade: prorated and invoiced at once, under the business key.
	key := billing.IdempotencyKey(tenant, "plan-enterprise", "2026-12-01")
	res, err := a.BillingChangePlan(ctx, billing.PlanInput{TenantID: tenant, SubscriptionID: "sub_bill", Plan: "enterprise", Upgrade: true, IdempotencyKey: key})
	if err != nil || res.Plan != "enterprise" {
		t.Fatalf("upgrade %+v %v", res, err)
	}
	if u := calls("/v1/subscriptions/sub_bill"); len(u) != 1 || u[0].key != key || u[0].form.Get("proration_behavior") != "always_invoice" ||
		u[0].form.Get("items[0][price]") == "" || u[0].form.Get("metadata[secureops_tier]") != "enterprise" {
		t.Errorf("subscription update %+v", u)
	}

	// The email's links: sessions under the email's key.
	links, err := a.BillingLinks(ctx, billing.LinksInput{TenantID: tenant, CustomerID: "cus_bill", Checkout: true, Portal: true, Key: "billing/x/past_due/in_bill"})
	if err != nil || links.CheckoutURL == "" || links.PortalURL == "" {
		t.Fatalf("links %+v %v", links, err)
	}
	if c := calls("/v1/checkout/sessions"); len(c) != 1 || c[0].key != "billing/x/past_due/in_bill/checkout" || c[0].form.Get("mode") != "setup" ||
		c[0].form.Get("success_url") != "http://portal.test/billing?checkout=done" {
		t.Errorf("checkout sessions %+v", c)
	}
	if p := calls("/v1/billing_portal/sessions"); len(p) != 1 || p[0].key != "billing/x/past_due/in_bill/portal" || p[0].form.Get("customer") != "cus_bill" {
		t.Errorf("portal sessions %+v", p)
	}

	// The period's reconciliation: the usage row, metered once.
	rec, err := a.BillingReconcile(ctx, billing.ReconcileInput{TenantID: tenant, CustomerID: "cus_bill", From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
	if err != nil || rec.Completed != 1 || rec.Metered != 1 || rec.Sent != 0 {
		t.Errorf("reconcile %+v %v", rec, err)
	}
	if err := a.BillingResume(ctx, billing.ResumeInput{TenantID: tenant, SubscriptionID: "sub_bill", IdempotencyKey: "billing/x/resume/p"}); err != nil {
		t.Errorf("resume: %v", err)
	}
}
