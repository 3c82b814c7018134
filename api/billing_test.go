package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/mock"
	"github.com/stripe/stripe-go/v76/webhook"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const whsec = "whsec_test_secret"

type signalled struct {
	mu  sync.Mutex
	evs []billing.Event
	ids []string
}

type webhookEnv struct {
	url    string
	db     *db.DB
	tenant uuid.UUID
	sig    *signalled
	fail   *bool
}

func startWebhook(t *testing.T) *webhookEnv {
	t.Helper()
	ctx := context.Background()
	h := pgtest.New(t).OpenApp(t)
	ten, err := bootstrap.CreateTenant(ctx, h, nil, bootstrap.TenantInput{Name: "Hooli", Tier: "pro"})
	if err != nil {
		t.Fatal(err)
	}
	cust, sub := "cus_hooli", "sub_hooli"
	if err := h.InTx(ctx, db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.OnboardingTenantSetStripe(ctx, tx, dbq.OnboardingTenantSetStripeParams{ID: ten.ID, StripeCustomerID: &cust, StripeSubscriptionID: &sub})
	}); err != nil {
		t.Fatal(err)
	}
	sig := &signalled{}
	fail := false
	mc := &mocks.Client{}
	mc.On("SignalWithStartWorkflow", mock.Anything, mock.Anything, billing.SignalStripeEvent, mock.Anything, mock.Anything, billing.WorkflowName, mock.Anything).
		Return(func(_ context.Context, id, _ string, arg any, opts client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
			if fail {
				return nil, errors.New("temporal unavailable")
			}
			sig.mu.Lock()
			defer sig.mu.Unlock()
			if opts.ID != id || opts.TaskQueue == "" || len(args) != 1 || args[0].(billing.Input).TenantID != ten.ID {
				t.Errorf("signal-with-start options %+v args %+v", opts, args)
			}
			sig.evs, sig.ids = append(sig.evs, arg.(billing.Event)), append(sig.ids, id)
			return nil, nil
		})
	s := &Server{DB: h, Temporal: mc, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Billing: BillingOptions{WebhookSecret: whsec}}
	r, err := s.Router()
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(r)
	t.Cleanup(hs.Close)
	return &webhookEnv{url: hs.URL + "/api/v1/stripe/webhook", db: h, tenant: ten.ID, sig: sig, fail: &fail}
}

func eventJSON(id, typ, customer string, created int64) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":"2020-08-27","created":%d,"type":%q,"livemode":false,"pending_webhooks":1,
"data":{"object":{"id":"in_%s","object":"invoice","customer":%q,"status":"open","amount_due":19900,"currency":"usd","hosted_invoice_url":"https://invoice.stripe.test/in","created":%d}}}`,
		id, created, typ, id, customer, created)
}

func (e *webhookEnv) post(t *testing.T, body []byte, header string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.url, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if header != "" {
		req.Header.Set("Stripe-Signature", header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("status %d with %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, out
}

func signed(body []byte, at time.Time, secret string) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header
}

func (e *webhookEnv) stored(t *testing.T, id string) (dbq.StripeEvent, bool) {
	var row dbq.StripeEvent
	err := e.db.InTx(context.Background(), db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		row, err = db.Q.StripeEventGet(ctx, tx, id)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return row, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return row, true
}

func TestStripeWebhook(t *testing.T) {
	e := startWebhook(t)
	now := time.Now()

	// A good signature: stored, signalled to billing/<tenant> once.
	body := eventJSON("evt_1", billing.EventInvoicePaymentFailed, "cus_hooli", now.Unix())
	if c, out := e.post(t, body, signed(body, now, whsec)); c != 200 || out["duplicate"] != false {
		t.Fatalf("good signature: %d %v", c, out)
	}
	if len(e.sig.evs) != 1 || e.sig.ids[0] != billing.WorkflowID(e.tenant) ||
		e.sig.evs[0] != (billing.Event{ID: "evt_1", Type: billing.EventInvoicePaymentFailed, Created: now.Unix(), ObjectID: "in_evt_1"}) {
		t.Fatalf("signals %+v %v", e.sig.evs, e.sig.ids)
	}
	if row, ok := e.stored(t, "evt_1"); !ok || row.TenantID.UUID != e.tenant || row.ObjectID != "in_evt_1" {
		t.Errorf("stored %+v", row)
	}

	// The same event again (Stripe retries): 200, duplicate, no signal.
	if c, out := e.post(t, body, signed(body, now, whsec)); c != 200 || out["duplicate"] != true || len(e.sig.evs) != 1 {
		t.Fatalf("duplicate: %d %v, signals %d", c, out, len(e.sig.evs))
	}

	// A bad signature, another secret, no header, an old timestamp: 400, nothing kept.
	bad := eventJSON("evt_bad", billing.EventInvoicePaid, "cus_hooli", now.Unix())
	for name, h := range map[string]string{
		"tampered":   strings.Replace(signed(bad, now, whsec), "v1=", "v1=00", 1),
		"other key":  signed(bad, now, "whsec_other"),
		"missing":    "",
		"10 min old": signed(bad, now.Add(-10*time.Minute), whsec),
	} {
		if c, out := e.post(t, bad, h); c != 400 {
			t.Errorf("%s: %d %v", name, c, out)
		}
	}
	if _, ok := e.stored(t, "evt_bad"); ok || len(e.sig.evs) != 1 {
		t.Errorf("a refused event was kept or signalled")
	}

	// An unknown customer: 200, stored without a tenant, nothing started.
	unknown := eventJSON("evt_unknown", billing.EventInvoicePaid, "cus_nobody", now.Unix())
	if c, _ := e.post(t, unknown, signed(unknown, now, whsec)); c != 200 || len(e.sig.evs) != 1 {
		t.Errorf("unknown tenant: %d, signals %d", c, len(e.sig.evs))
	}
	if row, ok := e.stored(t, "evt_unknown"); !ok || row.TenantID.Valid {
		t.Errorf("unknown tenant's event %+v", row)
	}

	// An event type the cycle does not handle: stored, acknowledged, no signal.
	other := eventJSON("evt_other", "invoice.created", "cus_hooli", now.Unix())
	if c, _ := e.post(t, other, signed(other, now, whsec)); c != 200 || len(e.sig.evs) != 1 {
		t.Errorf("unhandled type: %d, signals %d", c, len(e.sig.evs))
	}

	// Over the cap: 413.
	huge := []byte(`{"id":"evt_huge","pad":"` + strings.Repeat("x", 300<<10) + `"}`)
	if c, _ := e.post(t, huge, signed(huge, now, whsec)); c != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", c)
	}

	// Temporal down: 503 and the id is not kept, so Stripe's retry is
	// signalled once Temporal is back.
	*e.fail = true
	retry := eventJSON("evt_retry", billing.EventInvoicePaid, "cus_hooli", now.Unix())
	if c, _ := e.post(t, retry, signed(retry, now, whsec)); c != http.StatusServiceUnavailable {
		t.Errorf("signal failure: %d", c)
	}
	if _, ok := e.stored(t, "evt_retry"); ok {
		t.Error("an unsignalled event was kept")
	}
	*e.fail = false
	if c, out := e.post(t, retry, signed(retry, now, whsec)); c != 200 || out["duplicate"] != false || len(e.sig.evs) != 2 {
		t.Errorf("retry: %d %v, signals %d", c, out, len(e.sig.evs))
	}
}

func TestStripeWebhookNotConfigured(t *testing.T) {
	s := &Server{DB: pgtest.New(t).OpenApp(t), Temporal: &mocks.Client{}}
	r, err := s.Router()
	if err != nil {
		t.Fatal(err)
	}
	body := eventJSON("evt_1", billing.EventInvoicePaid, "cus_x", time.Now().Unix())
	req := httptest.NewRequest("POST", "/api/v1/stripe/webhook", strings.NewReader(string(body)))
	req.Header.Set("Stripe-Signature", signed(body, time.Now(), whsec))
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("without a secret: %d", rec.Code)
	}
}
