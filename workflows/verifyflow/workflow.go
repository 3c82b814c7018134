// Package verifyflow is the ownership verification workflow (contract:
// internal/contract/verify): it looks for the target's proof now and again on
// a durable timer, backing off, for up to 72 hours, and leaves the outcome on
// the target.
package verifyflow

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/verify"
	"github.com/secureops/secureops/internal/temporalx"
)

// Register registers the workflow under its stable name.
func Register(reg temporalx.WorkflowRegistry) { verify.Workflow.Register(reg, Workflow) }

// Workflow verifies one target.
func Workflow(ctx workflow.Context, in verify.Input) (verify.CheckResult, error) {
	window, interval := in.Window, in.FirstInterval
	if window <= 0 {
		window = 72 * time.Hour
	}
	if interval <= 0 {
		interval = time.Minute
	}
	st := verify.Status{State: "checking", Deadline: workflow.Now(ctx).Add(window)}
	if err := workflow.SetQueryHandler(ctx, verify.QueryStatus, func() (verify.Status, error) { return st, nil }); err != nil {
		return verify.CheckResult{}, err
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: temporalx.QueueScans,
		// DNS and HTTP attempts are bounded inside the activity.
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
			MaximumAttempts: 10,
		},
	})
	recheck := workflow.GetSignalChannel(ctx, verify.SignalRecheck)
	for {
		final := !workflow.Now(ctx).Add(interval).Before(st.Deadline)
		st.State = "checking"
		res, err := verify.Check.Run(actx, verify.CheckInput{
			TenantID: in.TenantID, TargetID: in.TargetID, Final: final,
		})
		if err != nil {
			return res, err
		}
		st.Checks++
		st.Detail = res.Detail
		if res.Status != "pending" {
			st.State = res.Status
			return res, nil
		}
		st.State, st.NextCheck = "waiting", workflow.Now(ctx).Add(interval)
		tctx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(workflow.NewTimer(tctx, interval), func(workflow.Future) {})
		sel.AddReceive(recheck, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.Select(ctx)
		cancel()
		// Drain extra presses so one burst of clicks is one early check.
		for recheck.ReceiveAsync(nil) {
		}
		interval = min(interval*2, time.Hour)
		if rest := st.Deadline.Sub(workflow.Now(ctx)); rest > 0 && interval > rest {
			interval = rest
		}
	}
}
