// Package billing is the contract of a tenant's billing cycle
// (workflows/billingflow): one entity workflow per tenant, billing/<tenant-id>,
// started by onboarding's last step (or by the first Stripe webhook about the
// tenant), that takes the tenant from trial to paid and through dunning,
// suspension, reinstatement and cancellation. Stripe webhook events arrive as
// signals (the API verifies and dedupes them), plan changes as an update with
// a validator, and the state is answered by a query and written to
// tenant_billing for the API. It continues as new every period, carrying the
// state, its absolute deadlines and the ids of the events it has seen.
package billing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name.
const WorkflowName = "BillingCycle"

// Workflow is the typed reference of the workflow.
var Workflow = temporalx.NewWorkflow[Input, State](WorkflowName)

// Kind is the Kind search attribute of billing workflows.
const Kind = "billing"

// WorkflowID is the tenant's billing cycle.
func WorkflowID(tenantID uuid.UUID) string { return "billing/" + tenantID.String() }

// Signal, query and update names.
const (
	// SignalStripeEvent carries one verified, new Stripe webhook event (Event).
	SignalStripeEvent = "stripe-event"
	// QueryState answers the State.
	QueryState = "state"
	// UpdatePlan changes the plan (PlanChange → State).
	UpdatePlan = "change-plan"
)

// Statuses of a billing cycle.
const (
	StatusTrialing  = "trialing"
	StatusActive    = "active"
	StatusPastDue   = "past_due"
	StatusSuspended = "suspended"
	StatusCancelled = "cancelled"
)

// Defaults of the cycle.
const (
	// GracePeriod is how long a past-due tenant keeps scanning.
	GracePeriod = 7 * 24 * time.Hour
	// TrialReminder is how long before the trial's end the add-a-card email goes.
	TrialReminder = 3 * 24 * time.Hour
	// Retention is how long a cancelled tenant's data is kept.
	Retention = 30 * 24 * time.Hour
	// MeterEvery is how often completed scans are sent as meter events.
	MeterEvery = time.Hour
	// SeenEvents bounds the event ids carried over continue-as-new.
	SeenEvents = 500
	// MeterEventName is the Stripe meter's event name.
	MeterEventName = "scan_completed"
)

// ReminderDays are the days after a failed payment a reminder goes out.
var ReminderDays = []int{3, 6}

// Event types the workflow acts on.
const (
	EventInvoicePaid          = "invoice.paid"
	EventInvoicePaymentFailed = "invoice.payment_failed"
	EventSubscriptionUpdated  = "customer.subscription.updated"
	EventSubscriptionDeleted  = "customer.subscription.deleted"
	EventTrialWillEnd         = "customer.subscription.trial_will_end"
	EventCheckoutCompleted    = "checkout.session.completed"
)

// Handled lists the event types that are signalled; others are stored and
// acknowledged only.
var Handled = map[string]bool{
	EventInvoicePaid: true, EventInvoicePaymentFailed: true, EventSubscriptionUpdated: true,
	EventSubscriptionDeleted: true, EventTrialWillEnd: true, EventCheckoutCompleted: true,
}

// Options tune a cycle; zero values are the defaults above (tests shorten them).
type Options struct {
	GracePeriod time.Duration `json:"grace_period,omitempty"`
	Retention   time.Duration `json:"retention,omitempty"`
	MeterEvery  time.Duration `json:"meter_every,omitempty"`
}

// Input starts (or continues) a tenant's billing cycle. Carry is nil on the
// first run.
type Input struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Options  Options   `json:"options,omitzero"`
	Carry    *Carry    `json:"carry,omitempty"`
}

// Carry is what one run hands the next: the state (with its absolute
// deadlines), the events seen and the newest event time per Stripe object.
type Carry struct {
	State  State        `json:"state"`
	Seen   []string     `json:"seen,omitempty"`
	Newest []ObjectTime `json:"newest,omitempty"`
	// RemindersSent counts the dunning reminders of the current past-due spell.
	RemindersSent int `json:"reminders_sent,omitempty"`
	// TrialEmailFor is the trial end the add-a-card email went out for.
	TrialEmailFor *time.Time `json:"trial_email_for,omitempty"`
}

// ObjectTime is the newest event time seen about one Stripe object: older
// events about it are stale.
type ObjectTime struct {
	Object  string `json:"object"`
	Created int64  `json:"created"`
}

// Event is one verified Stripe webhook event, as signalled by the API.
type Event struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Created  int64  `json:"created"`
	ObjectID string `json:"object_id"`
}

// Invoice is an invoice as the cycle and the API show it.
type Invoice struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	AmountDue int64     `json:"amount_due"`
	Currency  string    `json:"currency"`
	HostedURL string    `json:"hosted_invoice_url,omitempty"`
	Created   time.Time `json:"created"`
}

// State is the answer of the state query, and what tenant_billing holds.
type State struct {
	TenantID       uuid.UUID  `json:"tenant_id"`
	Status         string     `json:"status"`
	Plan           string     `json:"plan"`
	PendingPlan    string     `json:"pending_plan,omitempty"`
	CustomerID     string     `json:"customer_id,omitempty"`
	SubscriptionID string     `json:"subscription_id,omitempty"`
	PeriodStart    *time.Time `json:"period_start,omitempty"`
	PeriodEnd      *time.Time `json:"period_end,omitempty"`
	TrialEnd       *time.Time `json:"trial_end,omitempty"`
	HasCard        bool       `json:"has_card"`
	// Reason says why the tenant is past due or suspended: payment_failed,
	// trial_ended_without_card.
	Reason string `json:"reason,omitempty"`
	// Spell is the business key of a past-due spell (the failed invoice, or
	// the trial's end): its emails' idempotency keys derive from it.
	Spell         string     `json:"spell,omitempty"`
	PastDueSince  *time.Time `json:"past_due_since,omitempty"`
	GraceDeadline *time.Time `json:"grace_deadline,omitempty"`
	SuspendedAt   *time.Time `json:"suspended_at,omitempty"`
	CancelledAt   *time.Time `json:"cancelled_at,omitempty"`
	// DeleteAt is when a cancelled tenant's data is deleted.
	DeleteAt    *time.Time `json:"delete_at,omitempty"`
	LastInvoice *Invoice   `json:"last_invoice,omitempty"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Reasons.
const (
	ReasonPaymentFailed = "payment_failed"
	ReasonTrialEnded    = "trial_ended_without_card"
)

// PlanChange is the plan-change update's argument. ByOwner is set by the API
// from the caller's role: only the tenant's owner changes its plan.
type PlanChange struct {
	Plan    string `json:"plan"`
	ByOwner bool   `json:"by_owner"`
}

// Error types.
const (
	ErrNotOwner       = "NotOwner"
	ErrUnknownPlan    = "UnknownPlan"
	ErrCancelled      = "BillingCancelled"
	ErrSamePlan       = "SamePlan"
	ErrNoSubscription = "NoSubscription"
	// Stripe refusals (non-retryable).
	ErrStripeRejected = "StripeRejected"
	ErrEmailRejected  = "EmailRejected"
)

// StartOptions start a tenant's billing cycle: one per tenant at a time; a
// second start (onboarding after a webhook started it) finds the running one.
func StartOptions(tenantID uuid.UUID) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       WorkflowID(tenantID),
		TaskQueue:                temporalx.QueueOnboarding,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    SearchAttributes(tenantID),
	}
}

// SearchAttributes of a tenant's billing cycle.
func SearchAttributes(tenantID uuid.UUID) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		temporalx.SATenantID.ValueSet(tenantID.String()),
		temporalx.SAKind.ValueSet(Kind),
	)
}

// Deliver signals one Stripe event to the tenant's cycle, starting it when it
// is not running (signal-with-start).
func Deliver(ctx context.Context, c client.Client, tenantID uuid.UUID, ev Event) error {
	_, err := c.SignalWithStartWorkflow(ctx, WorkflowID(tenantID), SignalStripeEvent, ev,
		StartOptions(tenantID), WorkflowName, Input{TenantID: tenantID})
	return err
}

// IdempotencyKey is the business key of a Stripe write or an email of the
// cycle: billing/<tenant>/<purpose>/<period>.
func IdempotencyKey(tenantID uuid.UUID, purpose, period string) string {
	return fmt.Sprintf("billing/%s/%s/%s", tenantID, purpose, period)
}

// Deletion: a cancelled tenant's data is deleted after the retention period
// by this workflow, which operators can cancel from the Web UI.
const DeletionWorkflowName = "TenantDeletion"

// Deletion is the typed reference of the deletion workflow.
var Deletion = temporalx.NewWorkflow[DeletionInput, string](DeletionWorkflowName)

// DeletionWorkflowID is the tenant's deletion.
func DeletionWorkflowID(tenantID uuid.UUID) string { return "tenant-deletion/" + tenantID.String() }

// DeletionInput names the tenant to delete; Notice is how long the workflow
// waits (cancellable) before it deletes.
type DeletionInput struct {
	TenantID uuid.UUID     `json:"tenant_id"`
	Notice   time.Duration `json:"notice"`
}

// DeletionNotice is the default wait before a deletion, for operators to cancel it.
const DeletionNotice = 24 * time.Hour

// Activities of the cycle, by the system they change.
var (
	// Postgres (activities/store).
	LoadAccount = temporalx.NewActivity[TenantInput, Account]("store.BillingLoadAccount")
	SaveState   = temporalx.NewAction[SaveInput]("store.BillingSaveState")
	ApplyTier   = temporalx.NewAction[TierInput]("store.BillingApplyTier")
	DeleteData  = temporalx.NewActivity[TenantInput, string]("store.BillingDeleteTenant")
	// Stripe (activities/stripe).
	Fetch      = temporalx.NewActivity[FetchInput, Snapshot]("stripe.BillingFetch")
	ChangePlan = temporalx.NewActivity[PlanInput, PlanResult]("stripe.BillingChangePlan")
	Resume     = temporalx.NewAction[ResumeInput]("stripe.BillingResume")
	Links      = temporalx.NewActivity[LinksInput, LinksResult]("stripe.BillingLinks")
	Meter      = temporalx.NewActivity[MeterInput, MeterResult]("stripe.BillingMeter")
	Reconcile  = temporalx.NewActivity[ReconcileInput, ReconcileResult]("stripe.BillingReconcile")
	// Email (activities/email).
	Email = temporalx.NewActivity[EmailInput, int]("email.Billing")
)

// TenantInput names a tenant.
type TenantInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Account is what the cycle reads about its tenant.
type Account struct {
	Found          bool   `json:"found"`
	Slug           string `json:"slug"`
	Tier           string `json:"tier"`
	Status         string `json:"status"`
	CustomerID     string `json:"customer_id,omitempty"`
	SubscriptionID string `json:"subscription_id,omitempty"`
	// Saved is the state a previous cycle wrote (tenant_billing), if any: a
	// cycle started again (a late webhook after the last one ended, an
	// operator's restart) goes on from it instead of a new trial.
	Saved *State `json:"saved,omitempty"`
}

// SaveInput is the state to write; Version orders writes.
type SaveInput struct {
	State   State `json:"state"`
	Version int64 `json:"version"`
}

// TierInput makes a plan the tenant's tier.
type TierInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Plan     string    `json:"plan"`
}

// FetchInput asks for the current state of an event's object. An answer
// about another customer than CustomerID is not about the tenant's object.
type FetchInput struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	CustomerID string    `json:"customer_id,omitempty"`
	Event      Event     `json:"event"`
}

// Snapshot is an event's object as re-read from Stripe, or, when Stripe's
// answer is about another object (stripe-mock), as the event carried it.
type Snapshot struct {
	// Object: subscription, invoice or checkout.session.
	Object   string `json:"object"`
	ObjectID string `json:"object_id"`
	// FromEvent: the event's own copy was used.
	FromEvent bool `json:"from_event,omitempty"`
	// Subscription.
	SubscriptionID   string     `json:"subscription_id,omitempty"`
	SubStatus        string     `json:"sub_status,omitempty"`
	Plan             string     `json:"plan,omitempty"`
	PeriodStart      *time.Time `json:"period_start,omitempty"`
	PeriodEnd        *time.Time `json:"period_end,omitempty"`
	TrialEnd         *time.Time `json:"trial_end,omitempty"`
	HasPaymentMethod bool       `json:"has_payment_method,omitempty"`
	// Invoice.
	Invoice *Invoice `json:"invoice,omitempty"`
}

// PlanInput changes the subscription's plan; AtPeriodEnd for downgrades.
type PlanInput struct {
	TenantID       uuid.UUID `json:"tenant_id"`
	SubscriptionID string    `json:"subscription_id"`
	Plan           string    `json:"plan"`
	Upgrade        bool      `json:"upgrade"`
	IdempotencyKey string    `json:"idempotency_key"`
}

// PlanResult is Stripe's confirmation.
type PlanResult struct {
	Plan        string     `json:"plan"`
	PeriodStart *time.Time `json:"period_start,omitempty"`
	PeriodEnd   *time.Time `json:"period_end,omitempty"`
}

// ResumeInput resumes a paused subscription.
type ResumeInput struct {
	TenantID       uuid.UUID `json:"tenant_id"`
	SubscriptionID string    `json:"subscription_id"`
	IdempotencyKey string    `json:"idempotency_key"`
}

// LinksInput asks for the links an email carries.
type LinksInput struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	CustomerID string    `json:"customer_id"`
	Checkout   bool      `json:"checkout"`
	Portal     bool      `json:"portal"`
	// Key prefixes the sessions' idempotency keys.
	Key string `json:"key"`
}

// LinksResult holds the session URLs.
type LinksResult struct {
	CheckoutURL string `json:"checkout_url,omitempty"`
	PortalURL   string `json:"portal_url,omitempty"`
}

// MeterInput sends the tenant's unmetered completed scans.
type MeterInput struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	CustomerID string    `json:"customer_id"`
}

// MeterResult counts what was sent; More when a batch was full.
type MeterResult struct {
	Sent int  `json:"sent"`
	More bool `json:"more,omitempty"`
}

// ReconcileInput compares a period's usage rows with what reached Stripe.
type ReconcileInput struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	CustomerID string    `json:"customer_id"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
}

// ReconcileResult: Completed scans in the period, Metered of them, and the
// total Stripe reports for the meter (-1 when it could not tell).
type ReconcileResult struct {
	Completed int64 `json:"completed"`
	Metered   int64 `json:"metered"`
	Stripe    int64 `json:"stripe"`
	Sent      int   `json:"sent"`
}

// Email kinds.
const (
	EmailTrialEnding = "trial_ending"
	EmailPastDue     = "past_due"
	EmailReminder    = "reminder"
	EmailSuspended   = "suspended"
	EmailReinstated  = "reinstated"
	EmailCancelled   = "cancelled"
)

// EmailInput is one billing email to the tenant's owners, once per Key.
type EmailInput struct {
	TenantID    uuid.UUID  `json:"tenant_id"`
	Kind        string     `json:"kind"`
	Key         string     `json:"key"`
	Plan        string     `json:"plan,omitempty"`
	InvoiceURL  string     `json:"invoice_url,omitempty"`
	PortalURL   string     `json:"portal_url,omitempty"`
	CheckoutURL string     `json:"checkout_url,omitempty"`
	Deadline    *time.Time `json:"deadline,omitempty"`
	DeleteAt    *time.Time `json:"delete_at,omitempty"`
}
