// Package gate holds the activities around the per-tenant scan gate: joining
// its queue (signal-with-start, so the first scan of a tenant starts it) and
// checking which slot holders have ended without giving their slot back.
package gate

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/temporalx"
)

// Activity names.
const (
	AcquireName = "gate.Acquire"
	EndedName   = "gate.Ended"
)

// Workflow-side names, repeated here so this package does not import the
// workflow package (which imports this one).
const (
	gateWorkflowName = "ScanGate"
	signalAcquire    = "acquire"
)

// Activities talk to Temporal on behalf of workflows.
type Activities struct {
	Client client.Client
}

// AcquireInput asks the tenant's gate for a slot.
type AcquireInput struct {
	TenantID       uuid.UUID `json:"tenant_id"`
	ScanWorkflowID string    `json:"scan_workflow_id"`
	Limit          int       `json:"limit"`
	RequestedAt    time.Time `json:"requested_at"`
}

// Acquire queues the scan at its tenant's gate, starting the gate if needed.
// Queuing twice is harmless: the gate ignores a scan it already knows.
func (a *Activities) Acquire(ctx context.Context, in AcquireInput) error {
	return Enqueue(ctx, a.Client, in)
}

// Enqueue joins the scan to its tenant's gate queue. The API calls it right
// after starting a scan, so the queue sees scans in request order; the scan
// workflow calls it again (through Acquire) in case the API could not.
func Enqueue(ctx context.Context, c client.Client, in AcquireInput) error {
	id := "scan-gate/" + in.TenantID.String()
	_, err := c.SignalWithStartWorkflow(ctx, id, signalAcquire,
		map[string]any{"scan_workflow_id": in.ScanWorkflowID, "limit": in.Limit, "requested_at": in.RequestedAt},
		client.StartWorkflowOptions{
			ID:                    id,
			TaskQueue:             temporalx.QueueScans,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				temporalx.SATenantID.ValueSet(in.TenantID.String()),
				temporalx.SAKind.ValueSet("scan-gate"),
			),
		}, gateWorkflowName, map[string]any{"tenant_id": in.TenantID})
	return err
}

// Ended returns the workflows among ids that are no longer running.
func (a *Activities) Ended(ctx context.Context, ids []string) ([]string, error) {
	var gone []string
	for _, id := range ids {
		d, err := a.Client.DescribeWorkflowExecution(ctx, id, "")
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			gone = append(gone, id)
		case err != nil:
			return nil, err
		case d.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			gone = append(gone, id)
		}
	}
	return gone, nil
}
