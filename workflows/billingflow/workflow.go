// Package billingflow is a tenant's billing cycle (contract:
// internal/contract/billing): one entity workflow per tenant,
// billing/<tenant-id>, from trial to paid, through dunning, suspension and
// reinstatement, to cancellation and, after the retention period, the
// tenant's deletion (a workflow of its own that operators can cancel).
//
// Stripe webhook events arrive as signals, already verified and deduplicated
// by the API; the cycle dedupes them again by id (a reset replays signals),
// drops an event older than one it has applied about the same object (Stripe
// does not keep order) and re-reads the object from Stripe before acting.
// Deadlines (trial end, reminders, grace, retention, period end) are absolute
// times in the state, so they survive continue-as-new and resets. Every
// Stripe write and email carries a business idempotency key, so a reset run
// charges, meters and emails nothing twice.
package billingflow

import (
	"slices"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/contract/schedule"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/tiers"
)

// Register registers the cycle and the tenant deletion under their names.
func Register(reg temporalx.WorkflowRegistry) {
	billing.Workflow.Register(reg, BillingWorkflow)
	billing.Deletion.Register(reg, DeletionWorkflow)
}

func storeOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueOnboarding,
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
		},
	}
}

// Stripe and email: retried with the same idempotency key through an
// outage; a refusal fails at once. Given up after a day (the next event or
// timer tries again; operators see the failure in the Web UI).
func externalOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:              temporalx.QueueOnboarding,
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute,
			NonRetryableErrorTypes: []string{billing.ErrStripeRejected, billing.ErrEmailRejected, billing.ErrUnknownPlan},
		},
	}
}

func syncOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueOnboarding,
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: 5 * time.Minute},
	}
}

// BillingWorkflow runs a tenant's billing cycle until the tenant's data is
// handed to its deletion, continuing as new every period.
func BillingWorkflow(ctx workflow.Context, in billing.Input) (billing.State, error) {
	c := newCycle(ctx, in)
	if err := c.setup(ctx); err != nil {
		return billing.State{}, err
	}
	return c.run(ctx)
}

type cycle struct {
	in        billing.Input
	opts      billing.Options
	st        billing.State
	seen      []string
	newest    []billing.ObjectTime
	reminders int
	trialMail *time.Time
	mu        workflow.Mutex
	started   time.Time
	// periodDone: the period ended; continue as new after it is handled.
	periodDone bool
	nextMeter  time.Time
}

func newCycle(ctx workflow.Context, in billing.Input) *cycle {
	c := &cycle{in: in, opts: in.Options, mu: workflow.NewMutex(ctx), started: workflow.Now(ctx)}
	if c.opts.GracePeriod <= 0 {
		c.opts.GracePeriod = billing.GracePeriod
	}
	if c.opts.Retention <= 0 {
		c.opts.Retention = billing.Retention
	}
	if c.opts.MeterEvery <= 0 {
		c.opts.MeterEvery = billing.MeterEvery
	}
	if in.Carry != nil {
		c.st, c.seen, c.newest = in.Carry.State, in.Carry.Seen, in.Carry.Newest
		c.reminders, c.trialMail = in.Carry.RemindersSent, in.Carry.TrialEmailFor
	}
	c.nextMeter = c.started.Add(c.opts.MeterEvery)
	return c
}

func (c *cycle) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, billing.QueryState, func() (billing.State, error) { return c.st, nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, billing.UpdatePlan, c.changePlan, workflow.UpdateHandlerOptions{
		Validator: c.validatePlan,
	})
}

func (c *cycle) run(ctx workflow.Context) (billing.State, error) {
	events := workflow.GetSignalChannel(ctx, billing.SignalStripeEvent)
	spins := 0
	if c.in.Carry == nil {
		if done, err := c.init(ctx); done || err != nil {
			return c.st, err
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return c.st, temporal.NewCanceledError(err.Error())
		}
		if c.st.Status == billing.StatusCancelled && c.st.DeleteAt != nil && !workflow.Now(ctx).Before(*c.st.DeleteAt) {
			return c.handOver(ctx, events)
		}
		if c.periodDone || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return c.st, c.continueAsNew(ctx, events)
		}
		d := c.nextWake(ctx).Sub(workflow.Now(ctx))
		if d <= 0 {
			// A deadline that stays due after it was handled would spin:
			// look again in a minute instead.
			if spins++; spins > 3 {
				d = time.Minute
			}
		} else {
			spins = 0
		}
		tctx, cancel := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(tctx, d)
		sel := workflow.NewSelector(ctx)
		var ev billing.Event
		gotEvent := false
		sel.AddReceive(events, func(ch workflow.ReceiveChannel, _ bool) { ch.Receive(ctx, &ev); gotEvent = true })
		sel.AddFuture(timer, func(workflow.Future) {})
		sel.Select(ctx)
		cancel()
		if err := c.mu.Lock(ctx); err != nil {
			return c.st, err
		}
		if gotEvent {
			c.onEvent(ctx, ev)
		} else {
			c.onTimers(ctx)
		}
		c.mu.Unlock()
	}
}

// init reads the tenant and its subscription on the first run. done: there
// is nothing to bill (Stripe not configured for the tenant).
func (c *cycle) init(ctx workflow.Context) (bool, error) {
	acct, err := billing.LoadAccount.Run(workflow.WithActivityOptions(ctx, storeOptions()), billing.TenantInput{TenantID: c.in.TenantID})
	if err != nil {
		return true, err
	}
	now := workflow.Now(ctx)
	if s := acct.Saved; s != nil && s.CustomerID != "" && s.CustomerID == acct.CustomerID {
		// A cycle of this tenant ran before: go on from where it stopped.
		c.st = *s
		return false, nil
	}
	c.st = billing.State{TenantID: c.in.TenantID, Status: billing.StatusTrialing, Plan: acct.Tier,
		CustomerID: acct.CustomerID, SubscriptionID: acct.SubscriptionID}
	if !acct.Found || acct.CustomerID == "" {
		// No customer: billing is off for this tenant (Stripe not
		// configured when it signed up). Nothing to cycle.
		c.st.Status = billing.StatusActive
		c.save(ctx)
		return true, nil
	}
	trialEnd := now.Add(tiers.TrialDays * 24 * time.Hour)
	c.st.TrialEnd, c.st.PeriodStart, c.st.PeriodEnd = &trialEnd, &now, &trialEnd
	if acct.SubscriptionID != "" {
		// Stripe's own dates when it knows the subscription.
		snap, err := billing.Fetch.Run(workflow.WithActivityOptions(ctx, externalOptions()), billing.FetchInput{
			TenantID: c.in.TenantID, CustomerID: acct.CustomerID, Event: billing.Event{Type: "sync", ObjectID: acct.SubscriptionID},
		})
		if err == nil && snap.ObjectID == acct.SubscriptionID {
			c.applySubscription(ctx, snap)
		}
	}
	c.save(ctx)
	return false, nil
}

// nextWake is the earliest deadline the state holds.
func (c *cycle) nextWake(ctx workflow.Context) time.Time {
	now := workflow.Now(ctx)
	wake := c.nextMeter
	at := func(t *time.Time) {
		if t != nil && t.Before(wake) {
			wake = *t
		}
	}
	switch c.st.Status {
	case billing.StatusTrialing:
		if c.st.TrialEnd != nil {
			if !c.trialMailed() && !c.st.HasCard {
				r := c.st.TrialEnd.Add(-billing.TrialReminder)
				at(&r)
			}
			at(c.st.TrialEnd)
		}
	case billing.StatusPastDue:
		if r := c.reminderAt(); r != nil {
			at(r)
		}
		at(c.st.GraceDeadline)
	case billing.StatusCancelled:
		at(c.st.DeleteAt)
	}
	if c.st.Status != billing.StatusCancelled && c.st.Status != billing.StatusTrialing {
		at(c.st.PeriodEnd)
	}
	if wake.Before(now) {
		return now
	}
	return wake
}

func (c *cycle) trialMailed() bool {
	return c.trialMail != nil && c.st.TrialEnd != nil && c.trialMail.Equal(*c.st.TrialEnd)
}

func (c *cycle) reminderAt() *time.Time {
	if c.st.PastDueSince == nil || c.reminders >= len(billing.ReminderDays) {
		return nil
	}
	t := c.st.PastDueSince.Add(time.Duration(billing.ReminderDays[c.reminders]) * 24 * time.Hour)
	return &t
}

// onTimers does whatever deadlines have passed.
func (c *cycle) onTimers(ctx workflow.Context) {
	now := workflow.Now(ctx)
	due := func(t *time.Time) bool { return t != nil && !now.Before(*t) }
	changed := false
	switch c.st.Status {
	case billing.StatusTrialing:
		if c.st.TrialEnd != nil && !c.trialMailed() && !c.st.HasCard && !now.Before(c.st.TrialEnd.Add(-billing.TrialReminder)) {
			c.trialEmail(ctx)
			changed = true
		}
		if due(c.st.TrialEnd) {
			if c.st.HasCard {
				// Stripe charges the card; invoice.paid or payment_failed follows.
				c.st.Status = billing.StatusActive
				c.st.PeriodStart, c.st.PeriodEnd = c.st.TrialEnd, addMonth(*c.st.TrialEnd)
			} else {
				// The subscription pauses (trial_settings missing payment
				// method: pause): past due with the grace of a failed payment.
				c.pastDue(ctx, billing.ReasonTrialEnded, *c.st.TrialEnd, "trial-"+c.st.TrialEnd.UTC().Format("2006-01-02"))
			}
			changed = true
		}
	case billing.StatusPastDue:
		for r := c.reminderAt(); r != nil && due(r) && !due(c.st.GraceDeadline); r = c.reminderAt() {
			c.reminders++
			c.dunningEmail(ctx, billing.EmailReminder, c.reminders)
			changed = true
		}
		if due(c.st.GraceDeadline) {
			c.suspend(ctx)
			changed = true
		}
	}
	if c.st.Status != billing.StatusCancelled && c.st.Status != billing.StatusTrialing && due(c.st.PeriodEnd) {
		c.endPeriod(ctx)
		changed = true
	}
	if !now.Before(c.nextMeter) {
		c.meter(ctx)
		c.nextMeter = now.Add(c.opts.MeterEvery)
	}
	if changed {
		c.save(ctx)
	}
}

// onEvent applies one Stripe event.
func (c *cycle) onEvent(ctx workflow.Context, ev billing.Event) {
	log := workflow.GetLogger(ctx)
	if ev.ID == "" || slices.Contains(c.seen, ev.ID) {
		return // a repeated delivery, or replayed after a reset
	}
	c.seen = append(c.seen, ev.ID)
	if len(c.seen) > billing.SeenEvents {
		c.seen = slices.Clone(c.seen[len(c.seen)-billing.SeenEvents:])
	}
	if !billing.Handled[ev.Type] {
		return
	}
	i := slices.IndexFunc(c.newest, func(o billing.ObjectTime) bool { return o.Object == ev.ObjectID })
	if i >= 0 && ev.Created < c.newest[i].Created {
		log.Info("stale Stripe event ignored", "event", ev.ID, "type", ev.Type, "object", ev.ObjectID)
		return
	}
	snap, err := billing.Fetch.Run(workflow.WithActivityOptions(ctx, externalOptions()), billing.FetchInput{TenantID: c.in.TenantID, CustomerID: c.st.CustomerID, Event: ev})
	if err != nil {
		log.Error("reading the event's object failed; the event is dropped", "event", ev.ID, "error", err)
		return
	}
	if i >= 0 {
		c.newest[i].Created = ev.Created
	} else {
		c.newest = append(c.newest, billing.ObjectTime{Object: ev.ObjectID, Created: ev.Created})
		if len(c.newest) > billing.SeenEvents {
			c.newest = slices.Clone(c.newest[len(c.newest)-billing.SeenEvents:])
		}
	}
	now := workflow.Now(ctx)
	switch ev.Type {
	case billing.EventInvoicePaid:
		if snap.Invoice != nil {
			c.st.LastInvoice = snap.Invoice
		}
		c.paid(ctx, "invoice-"+snap.ObjectID)
	case billing.EventInvoicePaymentFailed:
		if snap.Invoice != nil {
			c.st.LastInvoice = snap.Invoice
		}
		if c.st.Status == billing.StatusActive || c.st.Status == billing.StatusTrialing {
			c.pastDue(ctx, billing.ReasonPaymentFailed, now, ev.ObjectID)
		}
	case billing.EventSubscriptionUpdated:
		c.applySubscription(ctx, snap)
		switch snap.SubStatus {
		case "paused", "incomplete_expired":
			if c.st.Status == billing.StatusTrialing || c.st.Status == billing.StatusActive {
				c.pastDue(ctx, billing.ReasonTrialEnded, now, ev.ObjectID+"-"+itoa(ev.Created))
			}
		case "past_due", "unpaid":
			if c.st.Status == billing.StatusTrialing || c.st.Status == billing.StatusActive {
				c.pastDue(ctx, billing.ReasonPaymentFailed, now, ev.ObjectID+"-"+itoa(ev.Created))
			}
		case "active":
			if c.st.Status == billing.StatusTrialing || (c.st.Reason == billing.ReasonTrialEnded &&
				(c.st.Status == billing.StatusPastDue || c.st.Status == billing.StatusSuspended)) {
				c.paid(ctx, "resumed-"+snap.ObjectID+"-"+itoa(ev.Created))
			}
		case "canceled":
			c.cancel(ctx)
		}
	case billing.EventSubscriptionDeleted:
		c.cancel(ctx)
	case billing.EventTrialWillEnd:
		if snap.TrialEnd != nil && snap.TrialEnd.After(now) {
			c.st.TrialEnd = snap.TrialEnd
		}
		if c.st.Status == billing.StatusTrialing && !c.st.HasCard {
			c.trialEmail(ctx)
		}
	case billing.EventCheckoutCompleted:
		c.st.HasCard = true
		if c.st.Reason == billing.ReasonTrialEnded && (c.st.Status == billing.StatusPastDue || c.st.Status == billing.StatusSuspended) {
			// The paused subscription runs again with the card.
			if err := billing.Resume.Run(workflow.WithActivityOptions(ctx, externalOptions()), billing.ResumeInput{
				TenantID: c.in.TenantID, SubscriptionID: c.st.SubscriptionID,
				IdempotencyKey: billing.IdempotencyKey(c.in.TenantID, "resume", c.periodKey()),
			}); err != nil {
				log.Error("resuming the subscription failed", "error", err)
			} else {
				c.paid(ctx, "card-"+snap.ObjectID)
			}
		}
	}
	c.save(ctx)
}

// applySubscription takes the subscription's dates, card and plan.
func (c *cycle) applySubscription(ctx workflow.Context, snap billing.Snapshot) {
	if snap.Object != "subscription" {
		return
	}
	// A period or trial that ended before now is history, not a deadline
	// (nor does a live subscription report one).
	now := workflow.Now(ctx)
	if snap.PeriodStart != nil && snap.PeriodEnd != nil && snap.PeriodEnd.After(now) {
		c.st.PeriodStart, c.st.PeriodEnd = snap.PeriodStart, snap.PeriodEnd
	}
	if snap.TrialEnd != nil && snap.TrialEnd.After(now) {
		c.st.TrialEnd = snap.TrialEnd
	}
	if snap.HasPaymentMethod {
		c.st.HasCard = true
	}
	if snap.Plan != "" && snap.Plan != c.st.Plan {
		// Stripe confirms the plan: the tier's limits follow now.
		c.applyTier(ctx, snap.Plan)
	}
}

func (c *cycle) applyTier(ctx workflow.Context, plan string) {
	if err := billing.ApplyTier.Run(workflow.WithActivityOptions(ctx, storeOptions()), billing.TierInput{TenantID: c.in.TenantID, Plan: plan}); err != nil {
		workflow.GetLogger(ctx).Error("applying the plan's tier failed", "plan", plan, "error", err)
		return
	}
	c.st.Plan = plan
	if c.st.PendingPlan == plan {
		c.st.PendingPlan = ""
	}
}

// pastDue starts a dunning spell: grace deadline, first email.
// spell names it for its emails' keys: the failed invoice, or the trial's
// end, never a workflow time (a reset replays signals at a later time).
func (c *cycle) pastDue(ctx workflow.Context, reason string, since time.Time, spell string) {
	grace := since.Add(c.opts.GracePeriod)
	c.st.Status, c.st.Reason, c.st.PastDueSince, c.st.GraceDeadline = billing.StatusPastDue, reason, &since, &grace
	c.st.Spell = spell
	c.reminders = 0
	c.dunningEmail(ctx, billing.EmailPastDue, 0)
}

// suspend: new scans and schedules refused, running scans finish.
func (c *cycle) suspend(ctx workflow.Context) {
	now := workflow.Now(ctx)
	c.st.Status, c.st.SuspendedAt = billing.StatusSuspended, &now
	c.save(ctx) // the API refuses scans from here
	c.syncSchedules(ctx)
	c.dunningEmail(ctx, billing.EmailSuspended, 0)
}

// paid ends any dunning spell: active again, schedules resumed, one email.
func (c *cycle) paid(ctx workflow.Context, key string) {
	was := c.st.Status
	switch was {
	case billing.StatusCancelled:
		return
	case billing.StatusTrialing:
		if c.st.TrialEnd != nil && workflow.Now(ctx).Before(*c.st.TrialEnd) {
			return // a $0 trial invoice: still in trial
		}
	}
	c.st.Status, c.st.Reason, c.st.PastDueSince, c.st.GraceDeadline, c.st.SuspendedAt = billing.StatusActive, "", nil, nil, nil
	c.st.Spell = ""
	c.reminders = 0
	if was == billing.StatusSuspended {
		c.save(ctx)
		c.syncSchedules(ctx)
	}
	if was == billing.StatusPastDue || was == billing.StatusSuspended {
		c.email(ctx, billing.EmailInput{Kind: billing.EmailReinstated, Key: billing.IdempotencyKey(c.in.TenantID, "email-reinstated", key)})
	}
}

func (c *cycle) cancel(ctx workflow.Context) {
	if c.st.Status == billing.StatusCancelled {
		return
	}
	now := workflow.Now(ctx)
	del := now.Add(c.opts.Retention)
	c.st.Status, c.st.CancelledAt, c.st.DeleteAt = billing.StatusCancelled, &now, &del
	c.st.GraceDeadline, c.st.PastDueSince, c.st.PendingPlan = nil, nil, ""
	c.save(ctx)
	c.syncSchedules(ctx)
	c.email(ctx, billing.EmailInput{Kind: billing.EmailCancelled, Key: billing.IdempotencyKey(c.in.TenantID, "email-cancelled", c.st.SubscriptionID), DeleteAt: &del})
}

// endPeriod reconciles the period's usage, applies a pending downgrade and
// moves to the next period; the loop then continues as new.
func (c *cycle) endPeriod(ctx workflow.Context) {
	from, to := *c.st.PeriodStart, *c.st.PeriodEnd
	c.meter(ctx)
	if c.st.CustomerID != "" {
		res, err := billing.Reconcile.Run(workflow.WithActivityOptions(ctx, externalOptions()), billing.ReconcileInput{
			TenantID: c.in.TenantID, CustomerID: c.st.CustomerID, From: from, To: to,
		})
		if err != nil {
			workflow.GetLogger(ctx).Error("usage reconciliation failed", "error", err)
		} else if res.Completed != res.Metered || (res.Stripe >= 0 && res.Stripe != res.Completed) {
			workflow.GetLogger(ctx).Warn("usage differs from Stripe's", "completed", res.Completed, "metered", res.Metered, "stripe", res.Stripe)
		}
	}
	if c.st.PendingPlan != "" && c.st.Status != billing.StatusCancelled {
		plan := c.st.PendingPlan
		_, err := billing.ChangePlan.Run(workflow.WithActivityOptions(ctx, externalOptions()), billing.PlanInput{
			TenantID: c.in.TenantID, SubscriptionID: c.st.SubscriptionID, Plan: plan,
			IdempotencyKey: billing.IdempotencyKey(c.in.TenantID, "plan-"+plan, to.UTC().Format("2006-01-02")),
		})
		if err != nil {
			workflow.GetLogger(ctx).Error("the downgrade at period end failed", "plan", plan, "error", err)
		} else {
			c.applyTier(ctx, plan)
		}
	}
	// The next period; periods missed while the worker was down are not
	// replayed one by one.
	start, next := to, addMonth(to)
	for !next.After(workflow.Now(ctx)) {
		start, next = *next, addMonth(*next)
	}
	c.st.PeriodStart, c.st.PeriodEnd = &start, next
	c.periodDone = true
}

func addMonth(t time.Time) *time.Time {
	n := t.AddDate(0, 1, 0)
	return &n
}

// meter sends completed scans as meter events, a bounded number of batches.
func (c *cycle) meter(ctx workflow.Context) {
	if c.st.CustomerID == "" || c.st.Status == billing.StatusCancelled {
		return
	}
	for range 10 {
		res, err := billing.Meter.Run(workflow.WithActivityOptions(ctx, externalOptions()), billing.MeterInput{TenantID: c.in.TenantID, CustomerID: c.st.CustomerID})
		if err != nil {
			workflow.GetLogger(ctx).Error("metering usage failed; the next tick tries again", "error", err)
			return
		}
		if !res.More {
			return
		}
	}
}

func (c *cycle) syncSchedules(ctx workflow.Context) {
	if _, err := schedule.SyncTenant.Run(workflow.WithActivityOptions(ctx, syncOptions()), c.in.TenantID); err != nil {
		workflow.GetLogger(ctx).Error("syncing the tenant's schedules failed", "error", err)
	}
}

func (c *cycle) periodKey() string {
	if c.st.PeriodStart == nil {
		return "initial"
	}
	return c.st.PeriodStart.UTC().Format("2006-01-02")
}

// trialEmail: the trial ends soon, add a card (a Checkout link).
func (c *cycle) trialEmail(ctx workflow.Context) {
	if c.trialMailed() || c.st.HasCard || c.st.TrialEnd == nil {
		return
	}
	end := *c.st.TrialEnd
	key := billing.IdempotencyKey(c.in.TenantID, "trial-ending", end.UTC().Format("2006-01-02"))
	links := c.links(ctx, key, true, false)
	// Tried once per trial end: the outbox key makes a retry (or a reset) send nothing twice.
	c.trialMail = &end
	c.email(ctx, billing.EmailInput{Kind: billing.EmailTrialEnding, Key: key, CheckoutURL: links.CheckoutURL, Deadline: &end})
}

// dunningEmail: past due (n 0), a reminder (n 1, 2), suspended.
func (c *cycle) dunningEmail(ctx workflow.Context, kind string, n int) {
	since := c.st.Spell
	if since == "" && c.st.PastDueSince != nil {
		since = c.st.PastDueSince.UTC().Format("20060102T150405")
	}
	purpose := kind
	if n > 0 {
		purpose = kind + "-" + itoa(int64(n))
	}
	key := billing.IdempotencyKey(c.in.TenantID, purpose, since)
	in := billing.EmailInput{Kind: kind, Key: key, Deadline: c.st.GraceDeadline}
	links := c.links(ctx, key, c.st.Reason == billing.ReasonTrialEnded, true)
	in.CheckoutURL, in.PortalURL = links.CheckoutURL, links.PortalURL
	if c.st.LastInvoice != nil && c.st.Reason == billing.ReasonPaymentFailed {
		in.InvoiceURL = c.st.LastInvoice.HostedURL
	}
	c.email(ctx, in)
}

func (c *cycle) links(ctx workflow.Context, key string, checkout, portal bool) billing.LinksResult {
	if c.st.CustomerID == "" {
		return billing.LinksResult{}
	}
	res, err := billing.Links.Run(workflow.WithActivityOptions(ctx, externalOptions()), billing.LinksInput{
		TenantID: c.in.TenantID, CustomerID: c.st.CustomerID, Checkout: checkout, Portal: portal, Key: key,
	})
	if err != nil {
		workflow.GetLogger(ctx).Error("creating the email's Stripe links failed; the email links to the portal's billing page", "error", err)
	}
	return res
}

// email is best effort for the cycle: a failed email never stops dunning.
func (c *cycle) email(ctx workflow.Context, in billing.EmailInput) bool {
	// One outbox key per email: email/billing/<tenant>/<purpose>/<period>.
	in.TenantID, in.Plan, in.Key = c.in.TenantID, c.st.Plan, "email/"+in.Key
	if _, err := billing.Email.Run(workflow.WithActivityOptions(ctx, externalOptions()), in); err != nil {
		workflow.GetLogger(ctx).Error("billing email failed", "kind", in.Kind, "error", err)
		return false
	}
	return true
}

func (c *cycle) save(ctx workflow.Context) {
	now := workflow.Now(ctx)
	c.st.UpdatedAt = now
	if err := billing.SaveState.Run(workflow.WithActivityOptions(ctx, storeOptions()), billing.SaveInput{State: c.st, Version: now.UnixNano()}); err != nil {
		workflow.GetLogger(ctx).Error("saving the billing state failed", "error", err)
	}
}

// validatePlan refuses a plan change before it enters the history.
func (c *cycle) validatePlan(_ workflow.Context, pc billing.PlanChange) error {
	switch {
	case !pc.ByOwner:
		return temporal.NewApplicationError("only the tenant's owner changes its plan", billing.ErrNotOwner)
	case !known(pc.Plan):
		return temporal.NewApplicationError("unknown plan "+pc.Plan, billing.ErrUnknownPlan)
	case c.st.Status == billing.StatusCancelled:
		return temporal.NewApplicationError("the subscription is cancelled", billing.ErrCancelled)
	case c.st.SubscriptionID == "":
		return temporal.NewApplicationError("the tenant has no subscription", billing.ErrNoSubscription)
	case pc.Plan == c.st.Plan && c.st.PendingPlan == "":
		return temporal.NewApplicationError("the tenant is on "+pc.Plan+" already", billing.ErrSamePlan)
	}
	return nil
}

func known(plan string) bool { _, ok := tiers.Get(plan); return ok }

func rank(plan string) int {
	return slices.IndexFunc(tiers.All, func(t tiers.Tier) bool { return t.Name == plan })
}

// changePlan: an upgrade now, prorated and invoiced at once; a downgrade at
// the period's end. Back to the current plan cancels a pending downgrade.
func (c *cycle) changePlan(ctx workflow.Context, pc billing.PlanChange) (billing.State, error) {
	if err := c.mu.Lock(ctx); err != nil {
		return c.st, err
	}
	defer c.mu.Unlock()
	if err := c.validatePlan(ctx, pc); err != nil { // the state may have moved while waiting
		return c.st, err
	}
	switch {
	case pc.Plan == c.st.Plan:
		c.st.PendingPlan = ""
	case rank(pc.Plan) > rank(c.st.Plan):
		res, err := billing.ChangePlan.Run(workflow.WithActivityOptions(ctx, externalOptions()), billing.PlanInput{
			TenantID: c.in.TenantID, SubscriptionID: c.st.SubscriptionID, Plan: pc.Plan, Upgrade: true,
			IdempotencyKey: billing.IdempotencyKey(c.in.TenantID, "plan-"+pc.Plan, c.periodKey()),
		})
		if err != nil {
			return c.st, err
		}
		c.st.PendingPlan = ""
		c.applyTier(ctx, res.Plan)
	default:
		c.st.PendingPlan = pc.Plan
	}
	c.save(ctx)
	return c.st, nil
}

// continueAsNew hands the state to a new run once every signal received is
// applied and every update handler has finished.
func (c *cycle) continueAsNew(ctx workflow.Context, events workflow.ReceiveChannel) error {
	for {
		if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
			return err
		}
		var ev billing.Event
		if !events.ReceiveAsync(&ev) {
			break
		}
		if err := c.mu.Lock(ctx); err != nil {
			return err
		}
		c.onEvent(ctx, ev)
		c.mu.Unlock()
	}
	return workflow.NewContinueAsNewError(ctx, billing.WorkflowName, billing.Input{
		TenantID: c.in.TenantID, Options: c.in.Options,
		Carry: &billing.Carry{State: c.st, Seen: c.seen, Newest: c.newest, RemindersSent: c.reminders, TrialEmailFor: c.trialMail},
	})
}

// handOver starts the tenant's deletion (which operators can cancel) after
// the retention period, and ends the cycle.
func (c *cycle) handOver(ctx workflow.Context, events workflow.ReceiveChannel) (billing.State, error) {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return c.st, err
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            billing.DeletionWorkflowID(c.in.TenantID),
		TaskQueue:             temporalx.QueueOnboarding,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(c.in.TenantID.String()), temporalx.SAKind.ValueSet("tenant-deletion"),
		),
	})
	fut := billing.Deletion.ExecuteChild(cctx, billing.DeletionInput{TenantID: c.in.TenantID, Notice: billing.DeletionNotice})
	if err := fut.GetChildWorkflowExecution().Get(ctx, nil); err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return c.st, err
	}
	_ = events // events after the retention period change nothing
	return c.st, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// DeletionWorkflow deletes a cancelled tenant after a notice period during
// which operators can cancel it from the Web UI (cancelling it keeps the
// tenant).
func DeletionWorkflow(ctx workflow.Context, in billing.DeletionInput) (string, error) {
	if in.Notice > 0 {
		if err := workflow.Sleep(ctx, in.Notice); err != nil {
			if temporal.IsCanceledError(err) {
				return "kept: the deletion was cancelled", nil
			}
			return "", err
		}
	}
	return billing.DeleteData.Run(workflow.WithActivityOptions(ctx, storeOptions()), billing.TenantInput{TenantID: in.TenantID})
}
