// Package triageflow is the Triage workflow (contract: internal/contract/triage):
// the rules' decisions on a scan's findings, then analysts' verdicts on the
// decisions that would close a finding, for up to 14 days.
package triageflow

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/triage"
	"github.com/secureops/secureops/internal/temporalx"
)

// Register registers the workflow under its stable name.
func Register(reg temporalx.WorkflowRegistry) { triage.Workflow.Register(reg, TriageWorkflow) }

func options() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: 10 * time.Minute,
		// A killed worker's decisions are taken over after a minute, not
		// ten (the activities heartbeat while they run).
		HeartbeatTimeout: triage.HeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 20,
			NonRetryableErrorTypes: []string{triage.ErrNotPending},
		},
	}
}

// TriageWorkflow decides, then waits for analysts.
func TriageWorkflow(ctx workflow.Context, in triage.Input) (triage.Result, error) {
	actx := workflow.WithActivityOptions(ctx, options())
	var res triage.Result
	pending := map[uuid.UUID]bool{} // waiting for an analyst
	busy := map[uuid.UUID]bool{}    // a verdict is being recorded
	validate := func(_ workflow.Context, v triage.Verdict) error {
		if !triage.CanApprove(v.Role) {
			return fmt.Errorf("role %q may not approve or reject triage decisions", v.Role)
		}
		if v.Actor == "" {
			return errors.New("the verdict names no actor")
		}
		if !pending[v.FindingID] {
			return fmt.Errorf("finding %s has no triage decision waiting for approval in this scan", v.FindingID)
		}
		if busy[v.FindingID] {
			return fmt.Errorf("finding %s is being decided", v.FindingID)
		}
		return nil
	}
	handler := func(approve bool) func(workflow.Context, triage.Verdict) (triage.Resolved, error) {
		return func(ctx workflow.Context, v triage.Verdict) (triage.Resolved, error) {
			busy[v.FindingID] = true
			defer delete(busy, v.FindingID)
			r, err := triage.Resolve.Run(workflow.WithActivityOptions(ctx, options()), triage.ResolveInput{
				TenantID: in.TenantID, ScanID: in.ScanID, Verdict: v, Approve: approve,
			})
			if err != nil {
				return r, err
			}
			delete(pending, v.FindingID)
			if approve {
				res.Approved++
			} else {
				res.Rejected++
			}
			return r, nil
		}
	}
	for _, u := range []struct {
		name    string
		approve bool
	}{{triage.UpdateApprove, true}, {triage.UpdateReject, false}} {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, handler(u.approve),
			workflow.UpdateHandlerOptions{Validator: validate}); err != nil {
			return res, err
		}
	}

	ev, err := triage.Evaluate.Run(actx, in)
	if err != nil {
		return res, err
	}
	res.Findings, res.Proposed = ev.Findings, len(ev.Pending)
	for _, id := range ev.Pending {
		pending[id] = true
	}
	if len(pending) > 0 {
		if _, err := workflow.AwaitWithTimeout(ctx, triage.ApprovalWindow, func() bool { return len(pending) == 0 }); err != nil {
			return res, err
		}
	}
	// A verdict being recorded finishes before the workflow does.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return res, err
	}
	res.Expired = len(pending)
	return res, nil
}
