package payments

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/tiers"
)

// EventSpec describes a realistic Stripe event about a tenant's customer,
// for `secureops billing event` (stripe-mock never sends webhooks) and tests.
type EventSpec struct {
	Type           string
	CustomerID     string
	SubscriptionID string
	// ObjectID names the invoice, subscription or session ("": a new invoice
	// or session id, the subscription's id).
	ObjectID string
	// SubStatus of a customer.subscription.* event (default active; deleted: canceled).
	SubStatus string
	Plan      string
	TrialEnd  time.Time
	Created   time.Time
}

func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Event builds the event's JSON as Stripe would send it (API version of
// stripe-go v76).
func Event(s EventSpec) ([]byte, error) {
	if s.Created.IsZero() {
		s.Created = time.Now()
	}
	created := s.Created.Unix()
	var obj map[string]any
	switch {
	case s.Type == billing.EventInvoicePaid || s.Type == billing.EventInvoicePaymentFailed:
		id := s.ObjectID
		if id == "" {
			id = newID("in_")
		}
		status, paid := "open", false
		if s.Type == billing.EventInvoicePaid {
			status, paid = "paid", true
		}
		plan, _ := tiers.Get(s.Plan)
		obj = map[string]any{
			"id": id, "object": "invoice", "customer": s.CustomerID, "subscription": s.SubscriptionID,
			"status": status, "paid": paid, "amount_due": plan.MonthlyCents, "currency": tiers.Currency,
			"hosted_invoice_url": "https://invoice.stripe.com/i/acct_demo/" + id, "created": created,
			"attempt_count": 1, "billing_reason": "subscription_cycle",
		}
	case s.Type == billing.EventCheckoutCompleted:
		id := s.ObjectID
		if id == "" {
			id = newID("cs_test_")
		}
		obj = map[string]any{
			"id": id, "object": "checkout.session", "customer": s.CustomerID, "mode": "setup",
			"status": "complete", "setup_intent": newID("seti_"), "created": created,
		}
	case s.Type == billing.EventSubscriptionUpdated || s.Type == billing.EventSubscriptionDeleted || s.Type == billing.EventTrialWillEnd:
		id := s.ObjectID
		if id == "" {
			id = s.SubscriptionID
		}
		status := s.SubStatus
		switch {
		case status != "":
		case s.Type == billing.EventSubscriptionDeleted:
			status = "canceled"
		case s.Type == billing.EventTrialWillEnd:
			status = "trialing"
		default:
			status = "active"
		}
		start := s.Created.Truncate(24 * time.Hour)
		sub := map[string]any{
			"id": id, "object": "subscription", "customer": s.CustomerID, "status": status, "created": created,
			"current_period_start": start.Unix(), "current_period_end": start.AddDate(0, 1, 0).Unix(),
			"metadata": map[string]string{"secureops_tier": s.Plan},
		}
		if t, ok := tiers.Get(s.Plan); ok {
			sub["items"] = map[string]any{"object": "list", "data": []any{map[string]any{
				"id": "si_" + id, "object": "subscription_item",
				"price": map[string]any{"id": "price_" + t.Name, "object": "price", "lookup_key": t.PriceLookupKey,
					"recurring": map[string]any{"interval": "month", "usage_type": "licensed"}},
			}}}
		}
		if !s.TrialEnd.IsZero() {
			sub["trial_end"] = s.TrialEnd.Unix()
			if status == "trialing" {
				sub["current_period_end"] = s.TrialEnd.Unix()
			}
		}
		obj = sub
	default:
		return nil, fmt.Errorf("unsupported event type %q (supported: %s, %s, %s, %s, %s, %s)", s.Type,
			billing.EventInvoicePaid, billing.EventInvoicePaymentFailed, billing.EventSubscriptionUpdated,
			billing.EventSubscriptionDeleted, billing.EventTrialWillEnd, billing.EventCheckoutCompleted)
	}
	return json.Marshal(map[string]any{
		"id": newID("evt_"), "object": "event", "api_version": stripego.APIVersion, "created": created,
		"type": s.Type, "livemode": false, "pending_webhooks": 1,
		"request": map[string]any{"id": nil, "idempotency_key": nil},
		"data":    map[string]any{"object": obj},
	})
}

// Sign is the Stripe-Signature header of body at t.
func Sign(body []byte, secret string, t time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: t}).Header
}
