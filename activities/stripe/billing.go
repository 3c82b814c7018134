package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	stripego "github.com/stripe/stripe-go/v76"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/faults"
	"github.com/secureops/secureops/internal/payments"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/tiers"
)

// RegisterBilling binds the billing cycle's Stripe activities.
func RegisterBilling(reg temporalx.ActivityRegistry, a *Activities) {
	billing.Fetch.Register(reg, a.BillingFetch)
	billing.ChangePlan.Register(reg, a.BillingChangePlan)
	billing.Resume.Register(reg, a.BillingResume)
	billing.Links.Register(reg, a.BillingLinks)
	billing.Meter.Register(reg, a.BillingMeter)
	billing.Reconcile.Register(reg, a.BillingReconcile)
}

// billingErr maps a Stripe error for the billing cycle: refusals are
// non-retryable StripeRejected, the rest is retried.
func billingErr(what string, err error) error {
	var se *stripego.Error
	if errors.As(err, &se) && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 &&
		se.HTTPStatusCode != 409 && se.HTTPStatusCode != 429 {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("stripe %s: %s", what, se.Msg), billing.ErrStripeRejected, err)
	}
	return fmt.Errorf("stripe %s: %w", what, err)
}

func (a *Activities) notConfigured() error {
	if a.API == nil {
		return temporal.NewNonRetryableApplicationError("Stripe is not configured", billing.ErrStripeRejected, nil)
	}
	return nil
}

// BillingFetch re-reads an event's object from Stripe: events come out of
// order and are retried for days, the object's current state is what
// counts. When Stripe answers about another object (stripe-mock answers
// fixtures: the id echoed, the rest about another customer), the event's own
// copy of the object (stored by the webhook) is used instead.
func (a *Activities) BillingFetch(ctx context.Context, in billing.FetchInput) (billing.Snapshot, error) {
	if err := a.notConfigured(); err != nil {
		return billing.Snapshot{}, err
	}
	ev := in.Event
	switch {
	case ev.Type == "sync" || strings.HasPrefix(ev.Type, "customer.subscription."):
		p := &stripego.SubscriptionParams{}
		p.Context = ctx
		p.AddExpand("default_payment_method")
		s, err := a.API.Subscriptions.Get(ev.ObjectID, p)
		if err != nil && !gone(err) {
			return billing.Snapshot{}, billingErr("read subscription", err)
		}
		if err == nil && s.ID == ev.ObjectID && (in.CustomerID == "" || (s.Customer != nil && s.Customer.ID == in.CustomerID)) {
			return payments.Subscription(s), nil
		}
		var own stripego.Subscription
		if ok, err := a.eventObject(ctx, ev, &own); err != nil || !ok {
			return billing.Snapshot{Object: "subscription"}, err
		}
		snap := payments.Subscription(&own)
		snap.FromEvent = true
		return snap, nil
	case strings.HasPrefix(ev.Type, "invoice."):
		p := &stripego.InvoiceParams{}
		p.Context = ctx
		inv, err := a.API.Invoices.Get(ev.ObjectID, p)
		if err != nil && !gone(err) {
			return billing.Snapshot{}, billingErr("read invoice", err)
		}
		if err == nil && inv.ID == ev.ObjectID && (in.CustomerID == "" || (inv.Customer != nil && inv.Customer.ID == in.CustomerID)) {
			return billing.Snapshot{Object: "invoice", ObjectID: inv.ID, Invoice: payments.Invoice(inv)}, nil
		}
		var own stripego.Invoice
		if ok, err := a.eventObject(ctx, ev, &own); err != nil || !ok {
			return billing.Snapshot{Object: "invoice", ObjectID: ev.ObjectID}, err
		}
		return billing.Snapshot{Object: "invoice", ObjectID: own.ID, Invoice: payments.Invoice(&own), FromEvent: true}, nil
	}
	// Checkout sessions: the event says all the cycle needs (a card was added).
	return billing.Snapshot{Object: "checkout.session", ObjectID: ev.ObjectID}, nil
}

// eventObject decodes the stored event's object into v.
func (a *Activities) eventObject(ctx context.Context, ev billing.Event, v any) (bool, error) {
	if ev.ID == "" {
		return false, nil
	}
	var row dbq.StripeEvent
	err := a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		row, err = db.Q.StripeEventGet(ctx, tx, ev.ID)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var se stripego.Event
	if err := json.Unmarshal(row.Payload, &se); err != nil || se.Data == nil {
		return false, nil
	}
	return json.Unmarshal(se.Data.Raw, v) == nil, nil
}

// BillingChangePlan moves the subscription's plan item to the plan's price:
// an upgrade prorated and invoiced at once (always_invoice), a downgrade
// (applied by the cycle at the period's end) without proration. The
// business idempotency key makes a retry or a reset change nothing twice.
func (a *Activities) BillingChangePlan(ctx context.Context, in billing.PlanInput) (billing.PlanResult, error) {
	if err := a.notConfigured(); err != nil {
		return billing.PlanResult{}, err
	}
	tier, ok := tiers.Get(in.Plan)
	if !ok {
		return billing.PlanResult{}, temporal.NewNonRetryableApplicationError("unknown plan "+in.Plan, billing.ErrUnknownPlan, nil)
	}
	cat, err := a.catalog.get(ctx, a.API)
	if err != nil {
		return billing.PlanResult{}, billingErr("price catalogue", err)
	}
	gp := &stripego.SubscriptionParams{}
	gp.Context = ctx
	sub, err := a.API.Subscriptions.Get(in.SubscriptionID, gp)
	if err != nil {
		return billing.PlanResult{}, billingErr("read subscription", err)
	}
	// The plan's item is the licensed (not metered) one.
	itemID := ""
	if sub.Items != nil {
		for _, it := range sub.Items.Data {
			if it.Price == nil || it.Price.Recurring == nil || it.Price.Recurring.UsageType != stripego.PriceRecurringUsageTypeMetered {
				itemID = it.ID
				break
			}
		}
	}
	p := &stripego.SubscriptionParams{
		Items:    []*stripego.SubscriptionItemsParams{{Price: stripego.String(cat[tier.PriceLookupKey])}},
		Metadata: map[string]string{"secureops_tier": tier.Name},
	}
	if itemID != "" {
		p.Items[0].ID = stripego.String(itemID)
	}
	if in.Upgrade {
		p.ProrationBehavior = stripego.String("always_invoice")
	} else {
		p.ProrationBehavior = stripego.String("none")
	}
	p.Context = ctx
	p.SetIdempotencyKey(in.IdempotencyKey)
	s, err := a.API.Subscriptions.Update(in.SubscriptionID, p)
	if err != nil {
		return billing.PlanResult{}, billingErr("change plan", err)
	}
	// Stripe's answer confirms the change (stripe-mock echoes a fixture, so
	// its plan is the one asked for).
	snap := payments.Subscription(s)
	return billing.PlanResult{Plan: in.Plan, PeriodStart: snap.PeriodStart, PeriodEnd: snap.PeriodEnd}, nil
}

// BillingResume resumes a subscription paused at the trial's end once a card
// is on file. One already running counts as resumed.
func (a *Activities) BillingResume(ctx context.Context, in billing.ResumeInput) error {
	if err := a.notConfigured(); err != nil {
		return err
	}
	p := &stripego.SubscriptionResumeParams{BillingCycleAnchor: stripego.String("now")}
	p.Context = ctx
	p.SetIdempotencyKey(in.IdempotencyKey)
	_, err := a.API.Subscriptions.Resume(in.SubscriptionID, p)
	var se *stripego.Error
	if errors.As(err, &se) && se.HTTPStatusCode == 400 && strings.Contains(strings.ToLower(se.Msg), "paused") {
		return nil // not paused (any more)
	}
	if err != nil {
		return billingErr("resume subscription", err)
	}
	return nil
}

// BillingLinks opens the Checkout and portal sessions an email links to,
// each under the email's business key.
func (a *Activities) BillingLinks(ctx context.Context, in billing.LinksInput) (billing.LinksResult, error) {
	var out billing.LinksResult
	if err := a.notConfigured(); err != nil {
		return out, err
	}
	var err error
	if in.Checkout {
		if out.CheckoutURL, err = payments.CheckoutURL(ctx, a.API, in.CustomerID, a.PublicURL, in.Key+"/checkout"); err != nil {
			return out, billingErr("checkout session", err)
		}
	}
	if in.Portal {
		if out.PortalURL, err = payments.PortalURL(ctx, a.API, in.CustomerID, a.PublicURL, in.Key+"/portal"); err != nil {
			return out, billingErr("portal session", err)
		}
	}
	return out, nil
}

// meterBatch bounds one BillingMeter call.
const meterBatch = 100

// BillingMeter sends each completed scan not yet metered as one meter event
// (identifier = the scan id, so Stripe counts a retry once) and records it
// after Stripe accepted it: a retried activity, or a reset workflow, finds
// the record and sends nothing again.
func (a *Activities) BillingMeter(ctx context.Context, in billing.MeterInput) (billing.MeterResult, error) {
	var res billing.MeterResult
	if err := a.notConfigured(); err != nil {
		return res, err
	}
	var rows []dbq.BillingUnmeteredRow
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		rows, err = db.Q.BillingUnmetered(ctx, tx, dbq.BillingUnmeteredParams{TenantID: in.TenantID, Lim: meterBatch})
		return err
	})
	if err != nil {
		return res, err
	}
	for _, r := range rows {
		id := r.ScanID.String()
		p := &stripego.BillingMeterEventParams{
			EventName:  stripego.String(billing.MeterEventName),
			Identifier: stripego.String(id),
			Payload:    map[string]string{"stripe_customer_id": in.CustomerID, "value": "1"},
			Timestamp:  stripego.Int64(r.FinishedAt.Unix()),
		}
		p.Context = ctx
		p.SetIdempotencyKey(billing.IdempotencyKey(in.TenantID, "meter", id))
		if _, err := a.API.BillingMeterEvents.New(p); err != nil {
			return res, billingErr("meter event", err)
		}
		faults.PauseFor(faults.BillingMeterSent, in.TenantID.String())
		if err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
			return db.Q.BillingMeterEventRecord(ctx, tx, dbq.BillingMeterEventRecordParams{ScanID: r.ScanID, TenantID: in.TenantID, Identifier: id})
		}); err != nil {
			return res, err
		}
		res.Sent++
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, res.Sent)
		}
	}
	res.More = len(rows) == meterBatch
	return res, nil
}

// BillingReconcile compares a period's completed scans (the usage rows, the
// record of truth) with what was metered and with Stripe's own total for
// the meter; the cycle logs a difference. Stripe = -1 when Stripe could not
// tell (no meter, or stripe-mock's fixture is about another customer).
func (a *Activities) BillingReconcile(ctx context.Context, in billing.ReconcileInput) (billing.ReconcileResult, error) {
	res := billing.ReconcileResult{Stripe: -1}
	if err := a.notConfigured(); err != nil {
		return res, err
	}
	m, err := a.BillingMeter(ctx, billing.MeterInput{TenantID: in.TenantID, CustomerID: in.CustomerID})
	if err != nil {
		return res, err
	}
	res.Sent = m.Sent
	err = a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		u, err := db.Q.BillingUsageCount(ctx, tx, dbq.BillingUsageCountParams{TenantID: in.TenantID, FromTime: in.From, ToTime: in.To})
		res.Completed, res.Metered = u.Completed, u.Metered
		return err
	})
	if err != nil {
		return res, err
	}
	lp := &stripego.BillingMeterListParams{}
	lp.Context = ctx
	meterID := ""
	it := a.API.BillingMeters.List(lp)
	for it.Next() {
		if it.BillingMeter().EventName == billing.MeterEventName {
			meterID = it.BillingMeter().ID
			break
		}
	}
	if it.Err() != nil || meterID == "" {
		return res, nil
	}
	sp := &stripego.BillingMeterEventSummaryListParams{
		ID: stripego.String(meterID), Customer: stripego.String(in.CustomerID),
		StartTime: stripego.Int64(in.From.Truncate(time.Minute).Unix()), EndTime: stripego.Int64(in.To.Truncate(time.Minute).Unix()),
	}
	sp.Context = ctx
	var total float64
	si := a.API.BillingMeterEventSummaries.List(sp)
	for si.Next() {
		s := si.BillingMeterEventSummary()
		if s.Meter != meterID {
			return res, nil // a fixture about another meter
		}
		total += s.AggregatedValue
	}
	if si.Err() == nil {
		res.Stripe = int64(total)
	}
	return res, nil
}
