// Package verify is the ownership verification workflow: it looks for the
// target's proof now and again on a durable timer, backing off, for up to
// 72 hours, and leaves the outcome on the target.
package verify

import (
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	averify "github.com/secureops/secureops/activities/verify"
	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name.
const WorkflowName = "VerifyTarget"

// SignalRecheck asks a waiting verification to look again now (the user
// just published the record and pressed "verify" again).
const SignalRecheck = "recheck"

// QueryStatus returns the Status.
const QueryStatus = "status"

// WorkflowID is one verification per target at a time.
func WorkflowID(targetID uuid.UUID) string { return "verify/" + targetID.String() }

// Input starts a verification.
type Input struct {
	TenantID uuid.UUID `json:"tenant_id"`
	TargetID uuid.UUID `json:"target_id"`
	// Window is how long to keep looking (default 72 h); FirstInterval the
	// first wait between checks (default 1 min), doubling up to an hour.
	Window        time.Duration `json:"window,omitempty"`
	FirstInterval time.Duration `json:"first_interval,omitempty"`
}

// Status is the live state of the verification.
type Status struct {
	State     string    `json:"state"` // checking, waiting, verified, failed, gone
	Checks    int       `json:"checks"`
	Detail    string    `json:"detail,omitempty"`
	NextCheck time.Time `json:"next_check,omitempty"`
	Deadline  time.Time `json:"deadline"`
}

// RegisterOptions registers the workflow under its stable name.
func RegisterOptions() workflow.RegisterOptions { return workflow.RegisterOptions{Name: WorkflowName} }

// Workflow verifies one target.
func Workflow(ctx workflow.Context, in Input) (averify.CheckResult, error) {
	window, interval := in.Window, in.FirstInterval
	if window <= 0 {
		window = 72 * time.Hour
	}
	if interval <= 0 {
		interval = time.Minute
	}
	st := Status{State: "checking", Deadline: workflow.Now(ctx).Add(window)}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) { return st, nil }); err != nil {
		return averify.CheckResult{}, err
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
	recheck := workflow.GetSignalChannel(ctx, SignalRecheck)
	for {
		final := !workflow.Now(ctx).Add(interval).Before(st.Deadline)
		st.State = "checking"
		var res averify.CheckResult
		err := workflow.ExecuteActivity(actx, averify.CheckName, averify.CheckInput{
			TenantID: in.TenantID, TargetID: in.TargetID, Final: final,
		}).Get(ctx, &res)
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
