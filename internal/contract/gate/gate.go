// Package gate is the contract of the per-tenant scan gate
// (workflows/gateflow): one long-lived entity workflow per tenant that hands
// out the tier's concurrent-scan slots in arrival order. Scans and the API
// join it through Enqueue; the gate's messages and its activities' typed
// references live here so neither side imports the other.
package gate

import (
	"context"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name.
const WorkflowName = "ScanGate"

// Kind is the Kind search attribute of gates.
const Kind = "scan-gate"

// Signals the gate receives and sends.
const (
	SignalAcquire = "acquire" // scan → gate: AcquireRequest
	// SignalAcquireMany joins several scans at once (the API's joins of a
	// busy tenant, in request order): []AcquireRequest.
	SignalAcquireMany = "acquire-many"
	SignalRelease     = "release" // scan → gate: ReleaseRequest
	SignalGranted     = "slot-granted"
	QueryState        = "state"
)

// WorkflowID is the tenant's gate.
func WorkflowID(tenantID uuid.UUID) string { return "scan-gate/" + tenantID.String() }

// Input starts (or continues) a gate.
type Input struct {
	TenantID uuid.UUID `json:"tenant_id"`
	State    *State    `json:"state,omitempty"` // carried over continue-as-new
}

// AcquireRequest asks for a slot for one scan workflow.
type AcquireRequest struct {
	ScanWorkflowID string `json:"scan_workflow_id"`
	// Limit is the tenant's current limit (the tier's), sent by each scan so a
	// tier change applies to the next grant without restarting the gate.
	Limit int `json:"limit"`
	// RequestedAt is when the scan was requested: the queue is served in
	// request order, whatever order the scans reach the gate in.
	RequestedAt time.Time `json:"requested_at"`
}

// Waiter is a queued scan.
type Waiter struct {
	ScanWorkflowID string    `json:"scan_workflow_id"`
	RequestedAt    time.Time `json:"requested_at"`
}

// ReleaseRequest gives a slot back (or leaves the queue).
type ReleaseRequest struct {
	ScanWorkflowID string `json:"scan_workflow_id"`
}

// State is what the gate holds: who runs, who waits.
type State struct {
	Limit   int      `json:"limit"`
	Running []string `json:"running"`
	Queue   []Waiter `json:"queue"`
}

// Activities around the gate: Acquire (called by the Scan workflow) joins the
// queue; Ended (called by the gate) returns the workflows among the given ids
// that are no longer running.
var (
	Acquire = temporalx.NewAction[AcquireInput]("gate.Acquire")
	Ended   = temporalx.NewActivity[[]string, []string]("gate.Ended")
)

// AcquireInput asks the tenant's gate for a slot.
type AcquireInput struct {
	TenantID       uuid.UUID `json:"tenant_id"`
	ScanWorkflowID string    `json:"scan_workflow_id"`
	Limit          int       `json:"limit"`
	RequestedAt    time.Time `json:"requested_at"`
}

// StartOptions start (or signal) a tenant's gate: one per tenant at a time,
// started again by the next scan after it ended idle.
func StartOptions(tenantID uuid.UUID) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    WorkflowID(tenantID),
		TaskQueue:             temporalx.QueueScans,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(tenantID.String()),
			temporalx.SAKind.ValueSet(Kind),
		),
	}
}

// Enqueue joins the scan to its tenant's gate queue, starting the gate if
// needed (signal-with-start). The API joins each scan right after starting
// it (off the request path, several at once through EnqueueMany), so the
// queue sees scans in request order; the scan workflow calls it again
// (through Acquire) in case the API could not. Queuing twice is harmless:
// the gate ignores a scan it already knows.
func Enqueue(ctx context.Context, c client.Client, in AcquireInput) error {
	_, err := c.SignalWithStartWorkflow(ctx, WorkflowID(in.TenantID), SignalAcquire,
		AcquireRequest{ScanWorkflowID: in.ScanWorkflowID, Limit: in.Limit, RequestedAt: in.RequestedAt},
		StartOptions(in.TenantID), WorkflowName, Input{TenantID: in.TenantID})
	return err
}

// EnqueueMany joins several scans of one gate in one signal-with-start, in
// the given order (Enqueue for one). A gate too old to know the signal
// ignores it; the scans' workflows join by themselves.
func EnqueueMany(ctx context.Context, c client.Client, gateTenant uuid.UUID, in []AcquireInput) error {
	if len(in) == 1 {
		return Enqueue(ctx, c, in[0])
	}
	reqs := make([]AcquireRequest, len(in))
	for i, a := range in {
		reqs[i] = AcquireRequest{ScanWorkflowID: a.ScanWorkflowID, Limit: a.Limit, RequestedAt: a.RequestedAt}
	}
	_, err := c.SignalWithStartWorkflow(ctx, WorkflowID(gateTenant), SignalAcquireMany, reqs,
		StartOptions(gateTenant), WorkflowName, Input{TenantID: gateTenant})
	return err
}
