package billingflow_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/contract/schedule"
	"github.com/secureops/secureops/workflows/billingflow"
)

var (
	start  = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	tenant = uuid.MustParse("11111111-2222-3333-4444-555555555555")
	day    = 24 * time.Hour
)

// world models what the activities touch: Stripe's objects (as a re-read
// answers them), the outbox (one email per key), tenant_billing, the tier,
// the schedules' sync and the deletions started.
type world struct {
	mu        sync.Mutex
	objects   map[string]billing.Snapshot
	outbox    map[string]billing.EmailInput
	emails    []billing.EmailInput // every attempt, in order
	saved     []billing.State
	tiers     []string
	plans     []billing.PlanInput
	resumes   []billing.ResumeInput
	syncs     []time.Time
	meters    int
	reconcile []billing.ReconcileInput
	deletions []billing.DeletionInput
	fetches   []billing.Event
	saved0    *billing.State // tenant_billing before the cycle starts
	env       *testsuite.TestWorkflowEnvironment
}

func newWorld() *world {
	return &world{objects: map[string]billing.Snapshot{}, outbox: map[string]billing.EmailInput{}}
}

func (w *world) load(_ context.Context, in billing.TenantInput) (billing.Account, error) {
	return billing.Account{Found: true, Slug: "acme", Tier: "pro", Status: "active", CustomerID: "cus_1", SubscriptionID: "sub_1", Saved: w.saved0}, nil
}

func (w *world) save(_ context.Context, in billing.SaveInput) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.saved = append(w.saved, in.State)
	return nil
}

func (w *world) applyTier(_ context.Context, in billing.TierInput) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tiers = append(w.tiers, in.Plan)
	return nil
}

func (w *world) fetch(_ context.Context, in billing.FetchInput) (billing.Snapshot, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fetches = append(w.fetches, in.Event)
	if s, ok := w.objects[in.Event.ObjectID]; ok {
		return s, nil
	}
	return billing.Snapshot{Object: "unknown", ObjectID: "other"}, nil
}

func (w *world) changePlan(_ context.Context, in billing.PlanInput) (billing.PlanResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.plans = append(w.plans, in)
	return billing.PlanResult{Plan: in.Plan}, nil
}

func (w *world) resume(_ context.Context, in billing.ResumeInput) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.resumes = append(w.resumes, in)
	return nil
}

func (w *world) links(_ context.Context, in billing.LinksInput) (billing.LinksResult, error) {
	var r billing.LinksResult
	if in.Checkout {
		r.CheckoutURL = "https://checkout.stripe.test/" + in.Key
	}
	if in.Portal {
		r.PortalURL = "https://billing.stripe.test/" + in.Key
	}
	return r, nil
}

func (w *world) meter(_ context.Context, in billing.MeterInput) (billing.MeterResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.meters++
	return billing.MeterResult{}, nil
}

func (w *world) reconcileUsage(_ context.Context, in billing.ReconcileInput) (billing.ReconcileResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reconcile = append(w.reconcile, in)
	return billing.ReconcileResult{Stripe: -1}, nil
}

func (w *world) email(_ context.Context, in billing.EmailInput) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.emails = append(w.emails, in)
	if _, ok := w.outbox[in.Key]; ok {
		return 0, nil
	}
	w.outbox[in.Key] = in
	return 1, nil
}

func (w *world) sync(_ context.Context, id uuid.UUID) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.syncs = append(w.syncs, w.env.Now())
	return 1, nil
}

func (w *world) deletion(ctx workflow.Context, in billing.DeletionInput) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deletions = append(w.deletions, in)
	return "deleted", nil
}

// sent lists the outbox's emails of a kind.
func (w *world) sent(kind string) []billing.EmailInput {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []billing.EmailInput
	for _, e := range w.emails {
		if e.Kind == kind {
			if _, ok := w.outbox[e.Key]; ok {
				out = append(out, e)
			}
		}
	}
	// one per key
	seen := map[string]bool{}
	var uniq []billing.EmailInput
	for _, e := range out {
		if !seen[e.Key] {
			seen[e.Key] = true
			uniq = append(uniq, e)
		}
	}
	return uniq
}

func (w *world) set(s billing.Snapshot) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.objects[s.ObjectID] = s
}

func newEnv(t *testing.T, w *world) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	w.env = env
	billing.Workflow.Register(env, billingflow.BillingWorkflow)
	billing.Deletion.Register(env, w.deletion)
	billing.LoadAccount.Register(env, w.load)
	billing.SaveState.Register(env, w.save)
	billing.ApplyTier.Register(env, w.applyTier)
	billing.Fetch.Register(env, w.fetch)
	billing.ChangePlan.Register(env, w.changePlan)
	billing.Resume.Register(env, w.resume)
	billing.Links.Register(env, w.links)
	billing.Meter.Register(env, w.meter)
	billing.Reconcile.Register(env, w.reconcileUsage)
	billing.Email.Register(env, w.email)
	schedule.SyncTenant.Register(env, w.sync)
	return env
}

func state(t *testing.T, env *testsuite.TestWorkflowEnvironment) billing.State {
	t.Helper()
	v, err := env.QueryWorkflow(billing.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var st billing.State
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func at(d time.Duration) time.Time { return start.Add(d) }

func ptr(t time.Time) *time.Time { return &t }

// signal sends ev at offset d from the start.
func signal(env *testsuite.TestWorkflowEnvironment, d time.Duration, ev billing.Event) {
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(billing.SignalStripeEvent, ev) }, d)
}

// check runs fn at offset d (between events) and records its failures.
func check(env *testsuite.TestWorkflowEnvironment, d time.Duration, fn func()) {
	env.RegisterDelayedCallback(fn, d)
}

func invoice(id, status string, created time.Time) billing.Snapshot {
	return billing.Snapshot{Object: "invoice", ObjectID: id, Invoice: &billing.Invoice{
		ID: id, Status: status, AmountDue: 19900, Currency: "usd", HostedURL: "https://invoice.stripe.test/" + id, Created: created,
	}}
}

var opts = billing.Options{MeterEvery: 24 * time.Hour, Retention: 30 * day}

// The whole cycle: trial → the trial-will-end email → a card added →
// active at the trial's end; a payment fails → past due with the invoice
// and portal links → reminders on days 3 and 6 → suspended at the grace
// deadline (schedules paused) → paid → active (schedules resumed, one
// email); the subscription deleted → cancelled → retention → deletion.
func TestWholeCycle(t *testing.T) {
	w := newWorld()
	env := newEnv(t, w)
	trialEnd := at(14 * day)

	signal(env, 11*day, billing.Event{ID: "evt_trial", Type: billing.EventTrialWillEnd, Created: at(11 * day).Unix(), ObjectID: "sub_1"})
	w.set(billing.Snapshot{Object: "subscription", ObjectID: "sub_1", SubscriptionID: "sub_1", SubStatus: "trialing", Plan: "pro", TrialEnd: &trialEnd})
	check(env, 11*day+time.Hour, func() {
		if n := len(w.sent(billing.EmailTrialEnding)); n != 1 {
			t.Errorf("trial-ending emails after trial_will_end: %d", n)
		}
		if e := w.sent(billing.EmailTrialEnding); len(e) == 1 && e[0].CheckoutURL == "" {
			t.Errorf("the trial email has no Checkout link: %+v", e[0])
		}
		if st := state(t, env); st.Status != billing.StatusTrialing || st.TrialEnd == nil || !st.TrialEnd.Equal(trialEnd) {
			t.Errorf("day 11: %+v", st)
		}
	})
	w.set(billing.Snapshot{Object: "checkout.session", ObjectID: "cs_1"})
	signal(env, 12*day, billing.Event{ID: "evt_cs", Type: billing.EventCheckoutCompleted, Created: at(12 * day).Unix(), ObjectID: "cs_1"})
	check(env, 14*day+time.Minute, func() {
		st := state(t, env)
		if st.Status != billing.StatusActive || !st.HasCard || st.PeriodEnd == nil || !st.PeriodEnd.Equal(trialEnd.AddDate(0, 1, 0)) {
			t.Errorf("after the trial with a card: %+v", st)
		}
		// The timer of day 11 (3 days before the end) found the email sent.
		if n := len(w.sent(billing.EmailTrialEnding)); n != 1 {
			t.Errorf("trial-ending emails: %d", n)
		}
	})

	failed := 20 * day
	w.set(invoice("in_1", "open", at(failed)))
	signal(env, failed, billing.Event{ID: "evt_fail", Type: billing.EventInvoicePaymentFailed, Created: at(failed).Unix(), ObjectID: "in_1"})
	check(env, failed+time.Hour, func() {
		st := state(t, env)
		if st.Status != billing.StatusPastDue || st.Reason != billing.ReasonPaymentFailed || st.GraceDeadline == nil ||
			!st.GraceDeadline.Equal(at(failed+7*day)) || st.LastInvoice == nil || st.LastInvoice.ID != "in_1" {
			t.Errorf("after the failed payment: %+v", st)
		}
		pd := w.sent(billing.EmailPastDue)
		if len(pd) != 1 || pd[0].InvoiceURL != "https://invoice.stripe.test/in_1" || pd[0].PortalURL == "" {
			t.Errorf("past-due emails %+v", pd)
		}
	})
	check(env, failed+5*day, func() {
		if n := len(w.sent(billing.EmailReminder)); n != 1 {
			t.Errorf("reminders by day 5: %d", n)
		}
	})
	check(env, failed+6*day+time.Hour, func() {
		if n := len(w.sent(billing.EmailReminder)); n != 2 {
			t.Errorf("reminders by day 6: %d", n)
		}
		if st := state(t, env); st.Status != billing.StatusPastDue {
			t.Errorf("day 6: %s", st.Status)
		}
	})
	check(env, failed+7*day+time.Minute, func() {
		st := state(t, env)
		if st.Status != billing.StatusSuspended || st.SuspendedAt == nil {
			t.Errorf("at the grace deadline: %+v", st)
		}
		if len(w.syncs) != 1 || len(w.sent(billing.EmailSuspended)) != 1 {
			t.Errorf("suspension: syncs %v, emails %d", w.syncs, len(w.sent(billing.EmailSuspended)))
		}
		if last := w.saved[len(w.saved)-1]; last.Status != billing.StatusSuspended {
			t.Errorf("tenant_billing not suspended: %+v", last)
		}
	})
	paid := failed + 8*day
	signal(env, paid, billing.Event{ID: "evt_paid", Type: billing.EventInvoicePaid, Created: at(paid).Unix(), ObjectID: "in_1"})
	check(env, paid-time.Minute, func() { w.set(invoice("in_1", "paid", at(failed))) })
	check(env, paid+time.Hour, func() {
		st := state(t, env)
		if st.Status != billing.StatusActive || st.GraceDeadline != nil || st.SuspendedAt != nil || st.LastInvoice.Status != "paid" {
			t.Errorf("after payment: %+v", st)
		}
		if len(w.syncs) != 2 || len(w.sent(billing.EmailReinstated)) != 1 {
			t.Errorf("reinstatement: syncs %d, emails %d", len(w.syncs), len(w.sent(billing.EmailReinstated)))
		}
	})
	deleted := paid + 2*day
	w.set(billing.Snapshot{Object: "subscription", ObjectID: "sub_1", SubscriptionID: "sub_1", SubStatus: "canceled", Plan: "pro"})
	signal(env, deleted, billing.Event{ID: "evt_del", Type: billing.EventSubscriptionDeleted, Created: at(deleted).Unix(), ObjectID: "sub_1"})
	check(env, deleted+time.Hour, func() {
		st := state(t, env)
		if st.Status != billing.StatusCancelled || st.DeleteAt == nil || !st.DeleteAt.Equal(at(deleted+30*day)) {
			t.Errorf("after deletion: %+v", st)
		}
		if len(w.deletions) != 0 || len(w.syncs) != 3 || len(w.sent(billing.EmailCancelled)) != 1 {
			t.Errorf("cancel: deletions %v syncs %d", w.deletions, len(w.syncs))
		}
	})

	env.ExecuteWorkflow(billing.WorkflowName, billing.Input{TenantID: tenant, Options: opts})
	if !env.IsWorkflowCompleted() {
		t.Fatal("not completed")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var st billing.State
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	if st.Status != billing.StatusCancelled || len(w.deletions) != 1 || w.deletions[0].TenantID != tenant {
		t.Errorf("end: %+v, deletions %v", st, w.deletions)
	}
	if len(w.resumes) != 0 || len(w.plans) != 0 {
		t.Errorf("unexpected Stripe writes: resumes %v plans %v", w.resumes, w.plans)
	}
	if w.meters == 0 {
		t.Error("usage never metered")
	}
	// Every email key is a business key under the tenant.
	for k := range w.outbox {
		if len(k) < len("email/billing/"+tenant.String()) || k[:len("email/billing/"+tenant.String())] != "email/billing/"+tenant.String() {
			t.Errorf("email key %q", k)
		}
	}
}

// A trial that ends without a card pauses: past due with the grace of a
// failed payment; a card added through Checkout resumes the subscription
// (with a business idempotency key) and the tenant is active again.
func TestTrialEndsWithoutCard(t *testing.T) {
	w := newWorld()
	env := newEnv(t, w)
	check(env, 11*day+time.Hour, func() {
		if n := len(w.sent(billing.EmailTrialEnding)); n != 1 {
			t.Errorf("the trial reminder timer sent %d emails", n)
		}
	})
	check(env, 14*day+time.Minute, func() {
		st := state(t, env)
		if st.Status != billing.StatusPastDue || st.Reason != billing.ReasonTrialEnded || st.GraceDeadline == nil || !st.GraceDeadline.Equal(at(21*day)) {
			t.Errorf("after the trial without a card: %+v", st)
		}
		if pd := w.sent(billing.EmailPastDue); len(pd) != 1 || pd[0].CheckoutURL == "" {
			t.Errorf("past-due email %+v", pd)
		}
	})
	w.set(billing.Snapshot{Object: "checkout.session", ObjectID: "cs_9"})
	signal(env, 16*day, billing.Event{ID: "evt_cs9", Type: billing.EventCheckoutCompleted, Created: at(16 * day).Unix(), ObjectID: "cs_9"})
	check(env, 16*day+time.Hour, func() {
		st := state(t, env)
		if st.Status != billing.StatusActive || !st.HasCard {
			t.Errorf("after the card: %+v", st)
		}
		if len(w.resumes) != 1 || w.resumes[0].IdempotencyKey != billing.IdempotencyKey(tenant, "resume", "2026-12-15") {
			t.Errorf("resumes %+v", w.resumes)
		}
		env.CancelWorkflow()
	})
	env.ExecuteWorkflow(billing.WorkflowName, billing.Input{TenantID: tenant, Options: opts})
	if !env.IsWorkflowCompleted() {
		t.Fatal("not completed")
	}
}

// Stripe repeats events and sends them out of order: a repeated id acts
// once, and an event older than one already applied about the same object
// is dropped (the paid invoice stays paid).
func TestOutOfOrderAndRepeatedEvents(t *testing.T) {
	w := newWorld()
	env := newEnv(t, w)
	w.set(billing.Snapshot{Object: "checkout.session", ObjectID: "cs_1"})
	signal(env, day, billing.Event{ID: "evt_cs", Type: billing.EventCheckoutCompleted, Created: at(day).Unix(), ObjectID: "cs_1"})
	// In the trial's second month: in_1 paid (created later) arrives before
	// its earlier payment_failed.
	base := 20 * day
	w.set(invoice("in_1", "paid", at(base)))
	signal(env, base, billing.Event{ID: "evt_paid", Type: billing.EventInvoicePaid, Created: at(base).Unix() + 60, ObjectID: "in_1"})
	signal(env, base+time.Minute, billing.Event{ID: "evt_failed_old", Type: billing.EventInvoicePaymentFailed, Created: at(base).Unix(), ObjectID: "in_1"})
	check(env, base+time.Hour, func() {
		if st := state(t, env); st.Status != billing.StatusActive {
			t.Errorf("a stale payment_failed made the tenant %s", st.Status)
		}
		if n := len(w.sent(billing.EmailPastDue)); n != 0 {
			t.Errorf("past-due emails %d", n)
		}
	})
	// The same failure delivered three times (Stripe retries webhooks).
	w.set(invoice("in_2", "open", at(base+2*day)))
	for i := range 3 {
		signal(env, base+2*day+time.Duration(i)*time.Minute, billing.Event{ID: "evt_f2", Type: billing.EventInvoicePaymentFailed, Created: at(base + 2*day).Unix(), ObjectID: "in_2"})
	}
	check(env, base+2*day+time.Hour, func() {
		st := state(t, env)
		if st.Status != billing.StatusPastDue {
			t.Errorf("status %s", st.Status)
		}
		if n := len(w.sent(billing.EmailPastDue)); n != 1 {
			t.Errorf("past-due emails %d", n)
		}
		fetches := 0
		for _, f := range w.fetches {
			if f.ID == "evt_f2" {
				fetches++
			}
		}
		if fetches != 1 {
			t.Errorf("the repeated event was applied %d times", fetches)
		}
		// A second failed retry of the same invoice (a new event) sends no
		// second past-due email and keeps the deadline.
		env.SignalWorkflow(billing.SignalStripeEvent, billing.Event{ID: "evt_f3", Type: billing.EventInvoicePaymentFailed, Created: at(base + 3*day).Unix(), ObjectID: "in_2"})
	})
	check(env, base+2*day+2*time.Hour, func() {
		st := state(t, env)
		if n := len(w.sent(billing.EmailPastDue)); n != 1 || st.GraceDeadline == nil || !st.GraceDeadline.Equal(at(base+9*day)) {
			t.Errorf("after a second failure: emails %d, %+v", n, st)
		}
		env.CancelWorkflow()
	})
	env.ExecuteWorkflow(billing.WorkflowName, billing.Input{TenantID: tenant, Options: opts})
	if !env.IsWorkflowCompleted() {
		t.Fatal("not completed")
	}
}

type updateResult struct {
	st  billing.State
	err error
	ok  bool
}

type updateCallbacks struct{ r *updateResult }

func (u updateCallbacks) Accept()          {}
func (u updateCallbacks) Reject(err error) { u.r.err, u.r.ok = err, true }
func (u updateCallbacks) Complete(v any, e error) {
	u.r.ok, u.r.err = true, e
	if st, ok := v.(billing.State); ok {
		u.r.st = st
	}
}

// A plan change racing a payment failure: both apply, in some order, and
// neither undoes the other: one Stripe change with the business key, the
// tier follows, the tenant is past due on the new plan. The validator
// refuses non-owners, unknown plans and cancelled subscriptions.
func TestPlanChangeRacesPaymentFailure(t *testing.T) {
	w := newWorld()
	env := newEnv(t, w)
	w.set(billing.Snapshot{Object: "checkout.session", ObjectID: "cs_1"})
	signal(env, day, billing.Event{ID: "evt_cs", Type: billing.EventCheckoutCompleted, Created: at(day).Unix(), ObjectID: "cs_1"})
	race := 20 * day
	w.set(invoice("in_1", "open", at(race)))
	var notOwner, unknown, up updateResult
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(billing.UpdatePlan, "u-owner", updateCallbacks{&notOwner}, billing.PlanChange{Plan: "enterprise"})
		env.UpdateWorkflow(billing.UpdatePlan, "u-unknown", updateCallbacks{&unknown}, billing.PlanChange{Plan: "platinum", ByOwner: true})
		env.UpdateWorkflow(billing.UpdatePlan, "u-up", updateCallbacks{&up}, billing.PlanChange{Plan: "enterprise", ByOwner: true})
		env.SignalWorkflow(billing.SignalStripeEvent, billing.Event{ID: "evt_fail", Type: billing.EventInvoicePaymentFailed, Created: at(race).Unix(), ObjectID: "in_1"})
	}, race)
	check(env, race+time.Hour, func() {
		st := state(t, env)
		if st.Status != billing.StatusPastDue || st.Plan != "enterprise" || st.PendingPlan != "" {
			t.Errorf("after the race: %+v", st)
		}
		if notOwner.err == nil || unknown.err == nil || up.err != nil || up.st.Plan != "enterprise" {
			t.Errorf("updates: not owner %v, unknown %v, upgrade %+v", notOwner.err, unknown.err, up)
		}
		if len(w.plans) != 1 || !w.plans[0].Upgrade || w.plans[0].IdempotencyKey != billing.IdempotencyKey(tenant, "plan-enterprise", "2026-12-15") {
			t.Errorf("Stripe plan changes %+v", w.plans)
		}
		if len(w.tiers) != 1 || w.tiers[0] != "enterprise" || len(w.sent(billing.EmailPastDue)) != 1 {
			t.Errorf("tiers %v, past-due emails %d", w.tiers, len(w.sent(billing.EmailPastDue)))
		}
	})
	// A downgrade waits for the period's end, then continues as new.
	var down updateResult
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(billing.UpdatePlan, "u-down", updateCallbacks{&down}, billing.PlanChange{Plan: "basic", ByOwner: true})
	}, race+2*time.Hour)
	check(env, race+3*time.Hour, func() {
		if down.err != nil || down.st.PendingPlan != "basic" || down.st.Plan != "enterprise" || len(w.plans) != 1 {
			t.Errorf("downgrade: %+v, plans %d", down, len(w.plans))
		}
		w.set(invoice("in_1", "paid", at(race)))
		env.SignalWorkflow(billing.SignalStripeEvent, billing.Event{ID: "evt_paid", Type: billing.EventInvoicePaid, Created: at(race).Unix() + 3600*3, ObjectID: "in_1"})
	})
	env.ExecuteWorkflow(billing.WorkflowName, billing.Input{TenantID: tenant, Options: opts})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new at the period's end, got %v", err)
	}
	var next billing.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	c := next.Carry
	if c == nil || c.State.Plan != "basic" || c.State.PendingPlan != "" || c.State.Status != billing.StatusActive ||
		!c.State.PeriodStart.Equal(at(14*day).AddDate(0, 1, 0)) || len(c.Seen) != 3 || next.Options != opts {
		t.Fatalf("carried %+v", next)
	}
	if len(w.plans) != 2 || w.plans[1].Upgrade || w.plans[1].Plan != "basic" || len(w.reconcile) != 1 ||
		!w.reconcile[0].From.Equal(at(14*day)) || !w.reconcile[0].To.Equal(at(14*day).AddDate(0, 1, 0)) {
		t.Errorf("period end: plans %+v reconcile %+v", w.plans, w.reconcile)
	}
}

// After continue-as-new the carried deadlines hold: a past-due tenant is
// suspended at the deadline of the previous run, and a repeated event seen
// before is still ignored.
func TestCarriedDeadlines(t *testing.T) {
	w := newWorld()
	env := newEnv(t, w)
	since, grace := at(-2*day), at(5*day)
	end := at(20 * day)
	ps := at(-10 * day)
	carry := &billing.Carry{
		State: billing.State{TenantID: tenant, Status: billing.StatusPastDue, Plan: "pro", CustomerID: "cus_1", SubscriptionID: "sub_1",
			PeriodStart: &ps, PeriodEnd: &end, Reason: billing.ReasonPaymentFailed, PastDueSince: &since, GraceDeadline: &grace, HasCard: true},
		Seen: []string{"evt_old"}, RemindersSent: 0,
	}
	w.set(invoice("in_1", "open", at(0)))
	signal(env, time.Hour, billing.Event{ID: "evt_old", Type: billing.EventInvoicePaid, Created: at(0).Unix(), ObjectID: "in_1"})
	check(env, 2*time.Hour, func() {
		if st := state(t, env); st.Status != billing.StatusPastDue {
			t.Errorf("a seen event acted: %s", st.Status)
		}
	})
	check(env, 5*day+time.Minute, func() {
		if st := state(t, env); st.Status != billing.StatusSuspended {
			t.Errorf("at the carried deadline: %s", st.Status)
		}
		// Reminders on days 3 and 6 of the spell (days 1 and 4 of this run).
		if n := len(w.sent(billing.EmailReminder)); n != 2 {
			t.Errorf("reminders %d", n)
		}
		env.CancelWorkflow()
	})
	env.ExecuteWorkflow(billing.WorkflowName, billing.Input{TenantID: tenant, Options: opts, Carry: carry})
	if !env.IsWorkflowCompleted() {
		t.Fatal("not completed")
	}
}

// The deletion waits its notice (operators can cancel it), then deletes.
func TestDeletion(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	deleted := 0
	billing.Deletion.Register(env, billingflow.DeletionWorkflow)
	billing.DeleteData.Register(env, func(_ context.Context, in billing.TenantInput) (string, error) {
		deleted++
		return "deleted", nil
	})
	env.ExecuteWorkflow(billing.DeletionWorkflowName, billing.DeletionInput{TenantID: tenant, Notice: day})
	if err := env.GetWorkflowError(); err != nil || deleted != 1 {
		t.Fatalf("deletion: %v, %d", err, deleted)
	}

	env = suite.NewTestWorkflowEnvironment()
	billing.Deletion.Register(env, billingflow.DeletionWorkflow)
	billing.DeleteData.Register(env, func(_ context.Context, in billing.TenantInput) (string, error) {
		deleted++
		return "deleted", nil
	})
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Hour)
	env.ExecuteWorkflow(billing.DeletionWorkflowName, billing.DeletionInput{TenantID: tenant, Notice: day})
	var res string
	if err := env.GetWorkflowResult(&res); err != nil || deleted != 1 {
		t.Fatalf("cancelled deletion: %v %q, deleted %d", err, res, deleted)
	}
}

// A plan changed in Stripe (the customer portal) reaches the tier when the
// subscription's update says so; a repeated trial_will_end sends one email;
// a subscription deleted while past due cancels, and the grace deadline
// then suspends nothing.
func TestStripeSideChanges(t *testing.T) {
	w := newWorld()
	env := newEnv(t, w)
	var late updateResult
	trialEnd := at(14 * day)
	w.set(billing.Snapshot{Object: "subscription", ObjectID: "sub_1", SubscriptionID: "sub_1", SubStatus: "trialing", Plan: "enterprise", TrialEnd: &trialEnd})
	signal(env, 2*day, billing.Event{ID: "evt_up", Type: billing.EventSubscriptionUpdated, Created: at(2 * day).Unix(), ObjectID: "sub_1"})
	signal(env, 11*day, billing.Event{ID: "evt_t1", Type: billing.EventTrialWillEnd, Created: at(11 * day).Unix(), ObjectID: "sub_1"})
	signal(env, 11*day+time.Hour, billing.Event{ID: "evt_t2", Type: billing.EventTrialWillEnd, Created: at(11*day).Unix() + 3600, ObjectID: "sub_1"})
	check(env, 2*day+time.Hour, func() {
		if st := state(t, env); st.Plan != "enterprise" || len(w.tiers) != 1 || w.tiers[0] != "enterprise" {
			t.Errorf("plan from Stripe: %+v, tiers %v", st, w.tiers)
		}
	})
	check(env, 12*day, func() {
		if n := len(w.sent(billing.EmailTrialEnding)); n != 1 {
			t.Errorf("trial emails %d", n)
		}
	})
	// The trial ends without a card: past due; then the subscription is deleted.
	check(env, 15*day, func() {
		w.set(billing.Snapshot{Object: "subscription", ObjectID: "sub_1", SubscriptionID: "sub_1", SubStatus: "canceled", Plan: "enterprise"})
	})
	signal(env, 16*day, billing.Event{ID: "evt_del", Type: billing.EventSubscriptionDeleted, Created: at(16 * day).Unix(), ObjectID: "sub_1"})
	check(env, 22*day, func() {
		st := state(t, env)
		if st.Status != billing.StatusCancelled || st.SuspendedAt != nil || st.GraceDeadline != nil {
			t.Errorf("after deletion: %+v", st)
		}
		if len(w.sent(billing.EmailSuspended)) != 0 || len(w.sent(billing.EmailCancelled)) != 1 {
			t.Errorf("emails: suspended %d, cancelled %d", len(w.sent(billing.EmailSuspended)), len(w.sent(billing.EmailCancelled)))
		}
		// The validator refuses plan changes of a cancelled subscription.
		env.UpdateWorkflow(billing.UpdatePlan, "u-late", updateCallbacks{&late}, billing.PlanChange{Plan: "pro", ByOwner: true})
	})
	check(env, 22*day+time.Hour, func() {
		if !late.ok || late.err == nil || len(w.plans) != 0 {
			t.Errorf("a cancelled subscription changed plan: %+v", late)
		}
		env.CancelWorkflow()
	})
	env.ExecuteWorkflow(billing.WorkflowName, billing.Input{TenantID: tenant, Options: opts})
	if !env.IsWorkflowCompleted() {
		t.Fatal("not completed")
	}
}

// A cycle started again (a late webhook after a cancelled cycle handed over,
// an operator's restart) goes on from the saved state: a cancelled tenant
// past its retention is handed to its deletion again, not given a new trial.
func TestRestartGoesOnFromSavedState(t *testing.T) {
	w := newWorld()
	del := at(-time.Hour)
	w.saved0 = &billing.State{TenantID: tenant, Status: billing.StatusCancelled, Plan: "pro", CustomerID: "cus_1", SubscriptionID: "sub_1", DeleteAt: &del}
	env := newEnv(t, w)
	env.ExecuteWorkflow(billing.WorkflowName, billing.Input{TenantID: tenant, Options: opts})
	var st billing.State
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	if st.Status != billing.StatusCancelled || len(w.deletions) != 1 || len(w.emails) != 0 {
		t.Errorf("restart: %+v, deletions %d, emails %d", st, len(w.deletions), len(w.emails))
	}
	for _, s := range w.saved {
		if s.Status != billing.StatusCancelled {
			t.Errorf("the restart saved %s", s.Status)
		}
	}
}
