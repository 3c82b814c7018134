package temporalx

import (
	"context"
	"errors"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// KindMaintenance is the Kind search attribute of platform housekeeping runs.
const KindMaintenance = "maintenance"

// PlatformSchedule is a Temporal Schedule that runs a platform workflow
// (one without input) at a fixed interval: the reconciler, the maintenance
// pass. A process's contract declares it; the workers that serve its queue
// keep it with EnsureSchedule.
type PlatformSchedule struct {
	ID        string
	Interval  time.Duration
	Workflow  string
	TaskQueue string
	Note      string
	// TriggerOnCreate runs the workflow once as soon as the schedule is
	// first created (a fresh deployment's first pass need not wait an interval).
	TriggerOnCreate bool
}

func (p PlatformSchedule) spec() client.ScheduleSpec {
	return client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: p.Interval}}}
}

func (p PlatformSchedule) action() *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:                    p.ID,
		Workflow:              p.Workflow,
		TaskQueue:             p.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(SAKind.ValueSet(KindMaintenance)),
	}
}

// EnsureSchedule creates the schedule, or brings an existing one in line with
// this build (a deploy may change the interval, queue or workflow); the
// workers of its queue call it at start. Overlapping runs are skipped: a slow
// pass is never doubled.
func EnsureSchedule(ctx context.Context, c client.Client, p PlatformSchedule) error {
	spec, action := p.spec(), p.action()
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:                 p.ID,
		Spec:               spec,
		Overlap:            enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action:             action,
		Note:               p.Note,
		TriggerImmediately: p.TriggerOnCreate,
	})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return err
	}
	h := c.ScheduleClient().GetHandle(ctx, p.ID)
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

// current says whether the schedule already runs this build's workflow at
// this build's interval.
func current(sch client.Schedule, spec client.ScheduleSpec, want *client.ScheduleWorkflowAction) bool {
	got, ok := sch.Action.(*client.ScheduleWorkflowAction)
	return ok && sch.Spec != nil && slices.Equal(sch.Spec.Intervals, spec.Intervals) &&
		sch.Policy != nil && sch.Policy.Overlap == enumspb.SCHEDULE_OVERLAP_POLICY_SKIP &&
		got.Workflow == want.Workflow && got.TaskQueue == want.TaskQueue
}
