// Package notify is the contract of the Notify workflow
// (workflows/notifyflow): a finished scan's events, delivered to every
// subscribed webhook of its tenant, each retried with backoff on its own and
// marked failed when Temporal gives up on it; and the scan's emails.
package notify

import (
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name.
const WorkflowName = "Notify"

// Workflow is the typed reference of the workflow.
var Workflow = temporalx.NewWorkflow[Input, Result](WorkflowName)

// WorkflowID names the notifications of one scan: at most one runs at a time.
func WorkflowID(scanID uuid.UUID) string { return "notify/" + scanID.String() }

// PingWorkflowID names the delivery of one test event.
func PingWorkflowID(deliveryID uuid.UUID) string { return "notify/ping/" + deliveryID.String() }

// Kind is the Kind search attribute of notifications.
const Kind = "notify"

// PingStartOptions start the delivery of one test event: a second start of
// the same delivery joins the first.
func PingStartOptions(tenantID, deliveryID uuid.UUID) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       PingWorkflowID(deliveryID),
		TaskQueue:                temporalx.QueueScans,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(tenantID.String()),
			temporalx.SAKind.ValueSet(Kind),
		),
	}
}

// ChildOptions run a finished scan's notifications as a child that outlives
// the scan; a reset scan's run may start them again.
func ChildOptions(scanID uuid.UUID) workflow.ChildWorkflowOptions {
	return workflow.ChildWorkflowOptions{
		WorkflowID:            WorkflowID(scanID),
		TaskQueue:             temporalx.QueueScans,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}
}

// Input starts a Notify workflow: either a finished scan (its events are
// prepared, then delivered) or deliveries that already exist (a ping).
type Input struct {
	TenantID    uuid.UUID   `json:"tenant_id"`
	ScanID      uuid.UUID   `json:"scan_id,omitempty"`
	DeliveryIDs []uuid.UUID `json:"delivery_ids,omitempty"`
}

// Result counts the deliveries by outcome.
type Result struct {
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
	// Gone: deleted with their webhook while waiting.
	Gone int `json:"gone,omitempty"`
}

// Error types of the activities. The permanent ones are in NonRetryable;
// ErrDeliveryFailed is the retryable type of a receiver that is down, slow or
// asked us to come back later.
const (
	ErrScanGone         = scan.ErrScanGone
	ErrScanNotFinished  = scan.ErrScanNotFinished
	ErrWebhookGone      = "WebhookGone"       // the receiver answered 410: the webhook is switched off
	ErrDeliveryRejected = "DeliveryRejected"  // a 3xx or 4xx other than 408 and 429: retrying changes nothing
	ErrURLRefused       = "WebhookURLRefused" // the URL (or what its name resolves to now) is outside the policy
	ErrDeliveryFailed   = "DeliveryFailed"
	// ErrEmailRejected: the email provider refused a message (onboarding's
	// mails fail with the same type).
	ErrEmailRejected = "EmailRejected"
)

// NonRetryable lists the error types a workflow must not retry.
var NonRetryable = []string{ErrScanGone, ErrScanNotFinished, ErrWebhookGone, ErrDeliveryRejected, ErrURLRefused, scan.ErrInvalidArgument}

// Activities the Notify workflow calls.
var (
	Prepare    = temporalx.NewActivity[scan.Ref, Prepared]("notify.Prepare")
	Deliver    = temporalx.NewActivity[DeliveryRef, DeliverResult]("notify.Deliver")
	MarkFailed = temporalx.NewAction[MarkFailedInput]("notify.MarkFailed")
	// ScanEmails runs on the onboarding queue, whose workers hold the email
	// provider's credentials.
	ScanEmails = temporalx.NewActivity[ScanEmailsInput, ScanEmailsResult]("email.ScanEmails")
)

// Prepared lists the deliveries still to send for a scan's events.
type Prepared struct {
	DeliveryIDs []uuid.UUID `json:"delivery_ids"`
}

// DeliveryRef names one delivery of a tenant.
type DeliveryRef struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	DeliveryID uuid.UUID `json:"delivery_id"`
}

// DeliverResult is one delivery's outcome.
type DeliverResult struct {
	// Status: delivered, failed (webhook switched off before this attempt),
	// or gone (the webhook was deleted).
	Status     string `json:"status"`
	StatusCode int    `json:"status_code,omitempty"`
	// Skipped: an earlier attempt had delivered it; nothing was sent.
	Skipped bool `json:"skipped,omitempty"`
}

// MarkFailedInput closes a delivery Temporal gave up on.
type MarkFailedInput struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	DeliveryID uuid.UUID `json:"delivery_id"`
	// Reason replaces the last error when set.
	Reason string `json:"reason,omitempty"`
}

// ScanEmailsInput names the finished scan whose emails go out.
type ScanEmailsInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ScanID   uuid.UUID `json:"scan_id"`
}

// ScanEmailsResult counts the emails sent.
type ScanEmailsResult struct {
	Summaries int `json:"summaries"`
	Alerts    int `json:"alerts"`
}
