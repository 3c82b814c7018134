package temporalops

import (
	"context"
	"errors"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/secureops/secureops/internal/contract/gate"
)

// Acquire queues the scan at its tenant's gate, starting the gate if needed.
// Queuing twice is harmless: the gate ignores a scan it already knows.
func (a *Activities) Acquire(ctx context.Context, in gate.AcquireInput) error {
	return gate.Enqueue(ctx, a.Client, in)
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
