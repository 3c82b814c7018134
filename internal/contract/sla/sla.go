// Package sla is the contract of a tenant's SLA timers (workflows/slaflow):
// one long-lived entity workflow per tenant, sla/<tenant-id>, that sleeps
// until the next instant one of the tenant's open findings comes due within
// DueSoon or passes its deadline (findings.sla_due_at), then records once per
// finding and stage the notices that instant decides (sla_notices), emails
// the tenant's owners and admins, and escalates overdue criticals as a
// finding.sla_breached webhook event (delivered by the Notify workflow). A
// deadlines-changed signal (SLA days patched, a scan ingested) wakes it
// early; it continues as new every CyclesPerRun wake-ups carrying only the
// absolute time of its next wake-up.
package sla

import (
	"context"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name.
const WorkflowName = "SLATimers"

// Kind is the Kind search attribute of SLA workflows.
const Kind = "sla"

// SignalDeadlinesChanged wakes the workflow to look again at once (no payload).
const SignalDeadlinesChanged = "deadlines-changed"

// DueSoon is how long before its deadline a finding is "due soon".
const DueSoon = 3 * 24 * time.Hour

// MaxSleep bounds one sleep: a deadline that moved without a signal (the
// daily intel refresh making a finding KEV) is seen within a day.
const MaxSleep = 24 * time.Hour

// CyclesPerRun is how many wake-ups one run handles before continuing as new.
const CyclesPerRun = 50

// WorkflowID is the tenant's SLA workflow.
func WorkflowID(tenantID uuid.UUID) string { return "sla/" + tenantID.String() }

// Input starts (or continues) a tenant's SLA workflow. Wake is the absolute
// time of the next look (zero: at once), carried over continue-as-new.
type Input struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Wake     time.Time `json:"wake,omitzero"`
}

// StartOptions start (or signal) a tenant's SLA workflow: one per tenant at a
// time, started again after it ended (a suspended tenant's ends).
func StartOptions(tenantID uuid.UUID) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       WorkflowID(tenantID),
		TaskQueue:                temporalx.QueueScans,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(tenantID.String()),
			temporalx.SAKind.ValueSet(Kind),
		),
	}
}

// DeadlinesChanged tells the tenant's SLA workflow that deadlines changed,
// starting it when it is not running (signal-with-start: idempotent, one
// workflow per tenant).
func DeadlinesChanged(ctx context.Context, c client.Client, tenantID uuid.UUID) error {
	_, err := c.SignalWithStartWorkflow(ctx, WorkflowID(tenantID), SignalDeadlinesChanged, nil,
		StartOptions(tenantID), WorkflowName, Input{TenantID: tenantID})
	return err
}

// Start starts the tenant's SLA workflow unless one is running (then it
// returns the running one without waking it).
func Start(ctx context.Context, c client.Client, tenantID uuid.UUID) error {
	_, err := c.ExecuteWorkflow(ctx, StartOptions(tenantID), WorkflowName, Input{TenantID: tenantID})
	return err
}

// Activities. Check and Ensure run on the scans queue; Emails on the
// onboarding queue, whose workers hold the email provider's credentials.
var (
	Check  = temporalx.NewActivity[CheckInput, CheckResult]("sla.Check")
	Emails = temporalx.NewActivity[EmailsInput, EmailsResult]("email.SLANotices")
	// Ensure starts the SLA workflow of every active tenant missing one (the
	// housekeeping pass runs it); it returns how many it reached.
	Ensure = temporalx.NewActivity0[int]("sla.EnsureAll")
)

// CheckInput asks what is due for a tenant at Now (the workflow's clock).
// BatchKey makes a retried check decide the same batch.
type CheckInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Now      time.Time `json:"now"`
	BatchKey string    `json:"batch_key"`
}

// CheckResult is what a check decided.
type CheckResult struct {
	// Active: the tenant is onboarding or active; otherwise the workflow ends.
	Active bool `json:"active"`
	// DueSoon and Overdue count the notices this check recorded; Breached
	// the overdue criticals among them (the finding.sla_breached event).
	DueSoon  int `json:"due_soon"`
	Overdue  int `json:"overdue"`
	Breached int `json:"breached"`
	// Email: notices not emailed yet (this check's or an earlier one's).
	Email bool `json:"email"`
	// DeliveryIDs: finding.sla_breached deliveries still to send.
	DeliveryIDs []uuid.UUID `json:"delivery_ids,omitempty"`
	// Next is the next instant a finding comes due soon or overdue; zero when
	// none is ahead.
	Next time.Time `json:"next,omitzero"`
}

// EmailsInput names the tenant whose unsent notices are emailed.
type EmailsInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// EmailsResult counts the emails sent (one per batch and recipient).
type EmailsResult struct {
	Emails  int `json:"emails"`
	Batches int `json:"batches"`
}

// NotifyChildOptions deliver a tenant's pending finding.sla_breached events
// through the Notify workflow, named by the first delivery: a retried or
// reset SLA run joins the running child rather than sending twice.
func NotifyChildOptions(tenantID, firstDelivery uuid.UUID) workflow.ChildWorkflowOptions {
	return workflow.ChildWorkflowOptions{
		WorkflowID:            "notify/sla/" + tenantID.String() + "/" + firstDelivery.String(),
		TaskQueue:             temporalx.QueueScans,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}
}
