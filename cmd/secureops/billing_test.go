package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// `secureops admin billing show` prints the tenant's billing document, and
// `secureops billing event` posts a signed event for the tenant's customer
// that pays the invoice that failed.
func TestBillingCommands(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	super, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(ctx)
	tenant := uuid.New()
	state, _ := json.Marshal(billing.State{TenantID: tenant, Status: billing.StatusPastDue, Plan: "pro", CustomerID: "cus_cli", SubscriptionID: "sub_cli",
		LastInvoice: &billing.Invoice{ID: "in_cli", Status: "open", Currency: "usd"}, UpdatedAt: time.Now()})
	for _, q := range []string{
		"INSERT INTO tenants (id, slug, name, status, tier, stripe_customer_id, stripe_subscription_id) VALUES ($1, 'cli-co', 'CLI Co', 'active', 'pro', 'cus_cli', 'sub_cli')",
		"INSERT INTO tenant_billing (tenant_id, status, plan, state) VALUES ($1, 'past_due', 'pro', $2)",
	} {
		args := []any{tenant}
		if strings.Contains(q, "$2") {
			args = append(args, state)
		}
		if _, err := super.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	const secret = "whsec_cli"
	var got []byte
	var sig string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		sig = r.Header.Get("Stripe-Signature")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"received":true,"duplicate":false}`))
	}))
	defer hook.Close()
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("DATABASE_URL", d.OwnerDSN)
	t.Setenv("APP_DATABASE_URL", d.AppDSN)
	t.Setenv("STRIPE_WEBHOOK_SECRET", secret)
	t.Setenv("STRIPE_API_BASE", "")
	t.Setenv("STRIPE_SECRET_KEY", "")

	run := func(c interface {
		SetOut(io.Writer)
		SetErr(io.Writer)
		SetArgs([]string)
		Execute() error
	}, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		c.SetOut(&out)
		c.SetErr(&out)
		c.SetArgs(args)
		if err := c.Execute(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	out := run(adminBillingCmd(), "show", "--tenant", "cli-co")
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc["status"] != "past_due" || doc["plan"] != "pro" || doc["tenant_id"] != tenant.String() {
		t.Fatalf("show: %v %s", err, out)
	}

	out = run(billingCmd(), "event", "--tenant", "cli-co", "--type", billing.EventInvoicePaid, "--api", hook.URL)
	if !strings.Contains(out, "200 OK") {
		t.Errorf("event output %q", out)
	}
	ev, err := webhook.ConstructEventWithOptions(got, sig, secret, webhook.ConstructEventOptions{})
	if err != nil {
		t.Fatalf("the posted event does not verify: %v", err)
	}
	var obj struct {
		ID       string `json:"id"`
		Customer string `json:"customer"`
		Status   string `json:"status"`
	}
	_ = json.Unmarshal(ev.Data.Raw, &obj)
	if ev.Type != billing.EventInvoicePaid || obj.ID != "in_cli" || obj.Customer != "cus_cli" || obj.Status != "paid" {
		t.Errorf("event %s %+v", ev.Type, obj)
	}
}
