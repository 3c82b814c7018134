// Package payments holds the billing rules the API, the CLI and the billing
// activities share: what a Stripe webhook event is about (and whose it is),
// the hold that refuses a suspended tenant's scans, the billing document
// owners and operators read, the Stripe objects' mapping to our plans, and
// the Checkout and customer-portal sessions. The billing cycle itself is a
// workflow (workflows/billingflow, contract internal/contract/billing).
package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/tiers"
)

// MaxWebhookBody caps a webhook request: Stripe's events are a few KiB; a
// subscription with many items stays well below this.
const MaxWebhookBody = 256 << 10

// Received is a verified webhook event, ready to store and signal.
type Received struct {
	Event    billing.Event
	TenantID uuid.UUID // uuid.Nil: no tenant of ours
	Payload  []byte
}

// ObjectOf reads the id, kind, customer and our tenant id (metadata) of an
// event's object.
func ObjectOf(ev stripego.Event) (id, object, customer string, tenant uuid.UUID) {
	if ev.Data == nil {
		return "", "", "", uuid.Nil
	}
	var o struct {
		ID       string            `json:"id"`
		Object   string            `json:"object"`
		Customer json.RawMessage   `json:"customer"`
		Metadata map[string]string `json:"metadata"`
	}
	_ = json.Unmarshal(ev.Data.Raw, &o)
	var cust string
	if err := json.Unmarshal(o.Customer, &cust); err != nil {
		var obj struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(o.Customer, &obj)
		cust = obj.ID
	}
	if v, err := uuid.Parse(o.Metadata["secureops_tenant_id"]); err == nil {
		tenant = v
	}
	return o.ID, o.Object, cust, tenant
}

// Store records a verified event once, in tx, and resolves its tenant (by
// customer id, then by our metadata). isNew is false for an event received
// before.
func Store(ctx context.Context, tx pgx.Tx, ev stripego.Event, payload []byte) (r Received, isNew bool, err error) {
	id, _, customer, meta := ObjectOf(ev)
	r = Received{Event: billing.Event{ID: ev.ID, Type: string(ev.Type), Created: ev.Created, ObjectID: id}, Payload: payload}
	if customer != "" {
		t, err := db.Q.BillingTenantByCustomer(ctx, tx, &customer)
		if err == nil {
			r.TenantID = t
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return r, false, err
		}
	}
	if r.TenantID == uuid.Nil && meta != uuid.Nil {
		if _, err := db.Q.TenantGet(ctx, tx, meta); err == nil {
			r.TenantID = meta
		}
	}
	_, err = db.Q.StripeEventInsert(ctx, tx, dbq.StripeEventInsertParams{
		ID: ev.ID, TenantID: uuid.NullUUID{UUID: r.TenantID, Valid: r.TenantID != uuid.Nil}, Type: string(ev.Type),
		ObjectID: id, Created: time.Unix(ev.Created, 0).UTC(), Payload: payload,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// Hold refuses new scans and schedules of a tenant whose billing is
// suspended or cancelled (its own or an ancestor's): 402 with the reason.
func Hold(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
	hold, err := db.Q.BillingHold(ctx, tx, tenant)
	if err != nil {
		return err
	}
	switch hold {
	case billing.StatusSuspended:
		return domainerr.New(domainerr.PaymentRequired, "scans are suspended: a payment is overdue past its grace period; pay the open invoice (GET /api/v1/billing, POST /api/v1/billing/portal) and scanning resumes")
	case billing.StatusCancelled:
		return domainerr.New(domainerr.PaymentRequired, "scans are stopped: the subscription is cancelled")
	}
	return nil
}

// PlanOfPrice maps a Stripe price (by lookup key) to our plan, "" for others
// (the metered scans price).
func PlanOfPrice(p *stripego.Price) string {
	if p == nil {
		return ""
	}
	for _, t := range tiers.All {
		if p.LookupKey == t.PriceLookupKey || p.Metadata["secureops_tier"] == t.Name {
			return t.Name
		}
	}
	return ""
}

// Subscription is a Stripe subscription as the cycle reads it.
func Subscription(s *stripego.Subscription) billing.Snapshot {
	snap := billing.Snapshot{Object: "subscription", ObjectID: s.ID, SubscriptionID: s.ID, SubStatus: string(s.Status),
		HasPaymentMethod: s.DefaultPaymentMethod != nil && s.DefaultPaymentMethod.ID != ""}
	if s.CurrentPeriodStart > 0 && s.CurrentPeriodEnd > 0 {
		ps, pe := time.Unix(s.CurrentPeriodStart, 0).UTC(), time.Unix(s.CurrentPeriodEnd, 0).UTC()
		snap.PeriodStart, snap.PeriodEnd = &ps, &pe
	}
	if s.TrialEnd > 0 {
		te := time.Unix(s.TrialEnd, 0).UTC()
		snap.TrialEnd = &te
	}
	if s.Items != nil {
		for _, it := range s.Items.Data {
			if p := PlanOfPrice(it.Price); p != "" {
				snap.Plan = p
			}
		}
	}
	if snap.Plan == "" && s.Metadata["secureops_tier"] != "" {
		if _, ok := tiers.Get(s.Metadata["secureops_tier"]); ok {
			snap.Plan = s.Metadata["secureops_tier"]
		}
	}
	return snap
}

// Invoice is a Stripe invoice as the cycle and the API show it.
func Invoice(in *stripego.Invoice) *billing.Invoice {
	return &billing.Invoice{ID: in.ID, Status: string(in.Status), AmountDue: in.AmountDue, Currency: string(in.Currency),
		HostedURL: in.HostedInvoiceURL, Created: time.Unix(in.Created, 0).UTC()}
}

// Links are where Stripe sends a customer back to.
func billingPage(publicURL string) string {
	return strings.TrimRight(publicURL, "/") + "/billing"
}

// CheckoutURL opens a Checkout session (setup mode) to add a card. key is a
// business idempotency key: the same purpose answers the same session.
func CheckoutURL(ctx context.Context, api *client.API, customer, publicURL, key string) (string, error) {
	p := &stripego.CheckoutSessionParams{
		Mode: stripego.String(string(stripego.CheckoutSessionModeSetup)), Customer: stripego.String(customer),
		Currency: stripego.String(tiers.Currency), PaymentMethodTypes: stripego.StringSlice([]string{"card"}),
		SuccessURL: stripego.String(billingPage(publicURL) + "?checkout=done"), CancelURL: stripego.String(billingPage(publicURL)),
	}
	p.Context = ctx
	if key != "" {
		p.SetIdempotencyKey(key)
	}
	s, err := api.CheckoutSessions.New(p)
	if err != nil {
		return "", err
	}
	return s.URL, nil
}

// PortalURL opens a customer-portal session (cards, invoices, cancellation).
func PortalURL(ctx context.Context, api *client.API, customer, publicURL, key string) (string, error) {
	p := &stripego.BillingPortalSessionParams{Customer: stripego.String(customer), ReturnURL: stripego.String(billingPage(publicURL))}
	p.Context = ctx
	if key != "" {
		p.SetIdempotencyKey(key)
	}
	s, err := api.BillingPortalSessions.New(p)
	if err != nil {
		return "", err
	}
	return s.URL, nil
}

// Doc is the billing document of GET /api/v1/billing and `secureops admin
// billing show`.
type Doc struct {
	TenantID uuid.UUID      `json:"tenant_id"`
	Billing  bool           `json:"billing_enabled"`
	State    *billing.State `json:"state,omitempty"`
	Plan     string         `json:"plan"`
	Status   string         `json:"status"`
	Usage    Usage          `json:"usage"`
	Invoices []Invoiced     `json:"invoices"`
}

// Usage is the period's consumption against the tier.
type Usage struct {
	PeriodStart        *time.Time `json:"period_start,omitempty"`
	PeriodEnd          *time.Time `json:"period_end,omitempty"`
	ScansCompleted     int64      `json:"scans_completed"`
	ScansMetered       int64      `json:"scans_metered"`
	MaxConcurrentScans int        `json:"max_concurrent_scans"`
	ScanUnitCents      int64      `json:"scan_unit_cents"`
	MonthlyCents       int64      `json:"monthly_cents"`
}

// Invoiced is one invoice with its hosted link.
type Invoiced = billing.Invoice

// Read assembles the document from tenant_billing and the usage rows (tx in
// a scope that sees the tenant).
func Read(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) (Doc, error) {
	t, err := db.Q.TenantGet(ctx, tx, tenant)
	if err != nil {
		return Doc{}, err
	}
	d := Doc{TenantID: tenant, Plan: t.Tier, Status: "none", Invoices: []Invoiced{}}
	row, err := db.Q.BillingStateGet(ctx, tx, tenant)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return Doc{}, err
	default:
		var st billing.State
		if err := json.Unmarshal(row.State, &st); err != nil {
			return Doc{}, fmt.Errorf("billing state of %s: %w", tenant, err)
		}
		d.State, d.Plan, d.Status, d.Billing = &st, st.Plan, st.Status, st.CustomerID != ""
		if st.LastInvoice != nil {
			d.Invoices = append(d.Invoices, *st.LastInvoice)
		}
	}
	now := time.Now().UTC()
	from, to := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC), now.Add(time.Second)
	if d.State != nil && d.State.PeriodStart != nil && d.State.PeriodEnd != nil {
		from, to = *d.State.PeriodStart, *d.State.PeriodEnd
	}
	u, err := db.Q.BillingUsageCount(ctx, tx, dbq.BillingUsageCountParams{TenantID: tenant, FromTime: from, ToTime: to})
	if err != nil {
		return Doc{}, err
	}
	d.Usage = Usage{PeriodStart: &from, PeriodEnd: &to, ScansCompleted: u.Completed, ScansMetered: u.Metered, ScanUnitCents: tiers.ScanUnitCents}
	if tr, ok := tiers.Get(d.Plan); ok {
		d.Usage.MaxConcurrentScans, d.Usage.MonthlyCents = tr.MaxConcurrentScans, tr.MonthlyCents
	}
	return d, nil
}

// AddInvoices lists the customer's recent invoices from Stripe into d
// (newest first), replacing the cycle's last invoice.
func AddInvoices(ctx context.Context, api *client.API, d *Doc) error {
	if api == nil || d.State == nil || d.State.CustomerID == "" {
		return nil
	}
	p := &stripego.InvoiceListParams{Customer: stripego.String(d.State.CustomerID)}
	p.Context = ctx
	p.Limit = stripego.Int64(12)
	p.Single = true
	it := api.Invoices.List(p)
	var out []Invoiced
	for it.Next() {
		out = append(out, *Invoice(it.Invoice()))
	}
	if err := it.Err(); err != nil {
		return err
	}
	d.Invoices = out
	if d.Invoices == nil {
		d.Invoices = []Invoiced{}
	}
	return nil
}
