// Package reconcile is the scan reconciler: a Temporal Schedule runs it every
// few minutes, so operators see each pass, its result and its failures in the
// Web UI like any other process.
package reconcile

import (
	"context"
	"errors"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	areconcile "github.com/secureops/secureops/activities/reconcile"
	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name.
const WorkflowName = "ReconcileScans"

// ScheduleID is the platform-wide schedule that runs it.
const ScheduleID = "maintenance/reconcile-scans"

// Interval is how often the schedule runs a pass.
const Interval = 5 * time.Minute

// RegisterOptions registers the workflow under its stable name.
func RegisterOptions() workflow.RegisterOptions { return workflow.RegisterOptions{Name: WorkflowName} }

// Summary is what one pass did.
type Summary struct {
	Scans areconcile.Result `json:"scans"`
	// SignupsWithdrawn counts sign-ups freed for a new attempt.
	SignupsWithdrawn int `json:"signups_withdrawn"`
}

// Workflow runs one reconciliation pass: scans, then sign-ups; a failure of
// one does not keep the other from running.
func Workflow(ctx workflow.Context) (Summary, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5,
		},
	})
	var sum Summary
	scansErr := workflow.ExecuteActivity(ctx, areconcile.ScansName).Get(ctx, &sum.Scans)
	signupsErr := workflow.ExecuteActivity(ctx, areconcile.SignupsName).Get(ctx, &sum.SignupsWithdrawn)
	return sum, errors.Join(scansErr, signupsErr)
}

// EnsureSchedule creates the schedule, or brings an existing one in line with
// this build (a deploy may change the interval, queue or workflow); every
// worker of the scans queue calls it at start. Overlapping passes are
// skipped: a slow pass is never doubled.
func EnsureSchedule(ctx context.Context, c client.Client) error {
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: Interval}}}
	action := &client.ScheduleWorkflowAction{
		ID:        ScheduleID,
		Workflow:  WorkflowName,
		TaskQueue: temporalx.QueueScans,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SAKind.ValueSet("maintenance"),
		),
	}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      ScheduleID,
		Spec:    spec,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action:  action,
		Note:    "Starts the workflows of scans whose API process died before starting them, fails scans whose workflow ended without finishing them, and withdraws sign-ups whose onboarding never began.",
	})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return err
	}
	h := c.ScheduleClient().GetHandle(ctx, ScheduleID)
	return h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		sch := in.Description.Schedule
		if current(sch, spec, action) {
			return nil, temporal.ErrSkipScheduleUpdate // every worker start but a deploy's first
		}
		sch.Spec = &spec
		sch.Action = action
		if sch.Policy == nil {
			sch.Policy = &client.SchedulePolicies{}
		}
		sch.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
		return &client.ScheduleUpdate{Schedule: &sch}, nil
	}})
}

// current says whether the schedule already runs this build's pass at this
// build's interval.
func current(sch client.Schedule, spec client.ScheduleSpec, want *client.ScheduleWorkflowAction) bool {
	got, ok := sch.Action.(*client.ScheduleWorkflowAction)
	return ok && sch.Spec != nil && slices.Equal(sch.Spec.Intervals, spec.Intervals) &&
		sch.Policy != nil && sch.Policy.Overlap == enumspb.SCHEDULE_OVERLAP_POLICY_SKIP &&
		got.Workflow == want.Workflow && got.TaskQueue == want.TaskQueue
}
