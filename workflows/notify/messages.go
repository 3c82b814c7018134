// Package notify is the Notify workflow: a finished scan's events, delivered
// to every subscribed webhook of its tenant, each retried with backoff on its
// own and marked failed when Temporal gives up on it.
package notify

import (
	"github.com/google/uuid"
	"go.temporal.io/sdk/workflow"
)

// WorkflowName is the registered name.
const WorkflowName = "Notify"

// WorkflowID names the notifications of one scan: at most one runs at a time.
func WorkflowID(scanID uuid.UUID) string { return "notify/" + scanID.String() }

// PingWorkflowID names the delivery of one test event.
func PingWorkflowID(deliveryID uuid.UUID) string { return "notify/ping/" + deliveryID.String() }

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

// RegisterOptions registers NotifyWorkflow under its stable name.
func RegisterOptions() workflow.RegisterOptions { return workflow.RegisterOptions{Name: WorkflowName} }
