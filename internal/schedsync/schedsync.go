// Package schedsync keeps each scan schedule's Temporal Schedule
// (scan-schedule/<id>) equal to its row: creating twice, updating and pausing
// are all "make Temporal match", so every call is safe to repeat.
package schedsync

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/schedule"
	"github.com/secureops/secureops/internal/temporalx"
)

// Spec is the schedule as a tenant states it.
type Spec struct {
	ScheduleID uuid.UUID
	TenantID   uuid.UUID
	Target     string
	Cron       string
	Interval   time.Duration
	TimeZone   string
	// Paused is the tenant's own pause; Blocked is a suspended tenant's.
	Paused  bool
	Blocked bool
}

func (s Spec) paused() bool { return s.Paused || s.Blocked }

func (s Spec) note() string {
	switch {
	case s.Blocked:
		return "paused: the tenant is suspended"
	case s.Paused:
		return "paused by the tenant"
	}
	return ""
}

func (s Spec) temporalSpec() client.ScheduleSpec {
	sp := client.ScheduleSpec{TimeZoneName: s.TimeZone}
	if s.Cron != "" {
		sp.CronExpressions = []string{s.Cron}
	} else {
		sp.Intervals = []client.ScheduleIntervalSpec{{Every: s.Interval}}
	}
	return sp
}

func (s Spec) action() *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		// Temporal appends the scheduled time to this id for each run.
		ID:        schedule.RunWorkflowID(s.ScheduleID),
		Workflow:  schedule.WorkflowName,
		Args:      []any{schedule.RunInput{TenantID: s.TenantID, ScheduleID: s.ScheduleID}},
		TaskQueue: temporalx.QueueScans,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(s.TenantID.String()),
			temporalx.SAKind.ValueSet(schedule.Kind),
			temporalx.ScanTargetValue(s.Target),
		),
	}
}

// catchup is about one interval: a run missed while Temporal was down is
// made up for if it is still current, never replayed days later.
func catchup(every time.Duration) time.Duration {
	return min(max(every, time.Minute), 7*24*time.Hour)
}

// ErrInvalid wraps what Temporal refused in the spec (a bad cron expression
// or time zone): the caller's mistake, not an outage.
var ErrInvalid = errors.New("invalid schedule")

// Syncer applies specs to Temporal.
type Syncer struct {
	Client client.Client
}

// Apply creates the Temporal Schedule or updates it to match s.
func (y Syncer) Apply(ctx context.Context, s Spec) error {
	sc := y.Client.ScheduleClient()
	window := catchup(s.Interval)
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID:             schedule.ID(s.ScheduleID),
		Spec:           s.temporalSpec(),
		Action:         s.action(),
		Overlap:        enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow:  window,
		PauseOnFailure: true,
		Paused:         s.paused(),
		Note:           s.note(),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(s.TenantID.String()),
			temporalx.SAKind.ValueSet("scan-schedule"),
		),
	})
	var exists *serviceerror.AlreadyExists
	switch {
	case err == nil:
	case errors.Is(err, temporal.ErrScheduleAlreadyRunning) || errors.As(err, &exists):
		err = y.update(ctx, s, window)
	}
	if err != nil {
		return wrap(err)
	}
	if s.Cron != "" {
		// A cron's period is only known from its next runs.
		return wrap(y.calibrate(ctx, s))
	}
	return nil
}

func (y Syncer) update(ctx context.Context, s Spec, window time.Duration) error {
	h := y.Client.ScheduleClient().GetHandle(ctx, schedule.ID(s.ScheduleID))
	err := h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		sch := in.Description.Schedule
		spec := s.temporalSpec()
		sch.Spec = &spec
		sch.Action = s.action()
		if sch.Policy == nil {
			sch.Policy = &client.SchedulePolicies{}
		}
		sch.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
		sch.Policy.PauseOnFailure = true
		if s.Cron == "" || sch.Policy.CatchupWindow == 0 {
			sch.Policy.CatchupWindow = window
		}
		return &client.ScheduleUpdate{Schedule: &sch}, nil
	}})
	if err != nil {
		return err
	}
	return y.SetPaused(ctx, s.ScheduleID, s.paused(), s.note())
}

func (y Syncer) calibrate(ctx context.Context, s Spec) error {
	h := y.Client.ScheduleClient().GetHandle(ctx, schedule.ID(s.ScheduleID))
	d, err := h.Describe(ctx)
	if err != nil {
		return err
	}
	next := d.Info.NextActionTimes
	if len(next) < 2 {
		return nil
	}
	window := catchup(next[1].Sub(next[0]))
	if d.Schedule.Policy != nil && d.Schedule.Policy.CatchupWindow == window {
		return nil
	}
	return h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		sch := in.Description.Schedule
		if sch.Policy == nil {
			sch.Policy = &client.SchedulePolicies{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, PauseOnFailure: true}
		}
		sch.Policy.CatchupWindow = window
		return &client.ScheduleUpdate{Schedule: &sch}, nil
	}})
}

// SetPaused pauses or unpauses; a schedule already in that state is left alone.
func (y Syncer) SetPaused(ctx context.Context, id uuid.UUID, paused bool, note string) error {
	h := y.Client.ScheduleClient().GetHandle(ctx, schedule.ID(id))
	d, err := h.Describe(ctx)
	if err != nil {
		return err
	}
	if d.Schedule.State != nil && d.Schedule.State.Paused == paused {
		return nil
	}
	if paused {
		return h.Pause(ctx, client.SchedulePauseOptions{Note: note})
	}
	return h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: "resumed"})
}

// Trigger starts a run now (skipped if one is still running).
func (y Syncer) Trigger(ctx context.Context, id uuid.UUID) error {
	h := y.Client.ScheduleClient().GetHandle(ctx, schedule.ID(id))
	return h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP})
}

// Delete removes the Temporal Schedule; one that is already gone is fine.
func (y Syncer) Delete(ctx context.Context, id uuid.UUID) error {
	err := y.Client.ScheduleClient().GetHandle(ctx, schedule.ID(id)).Delete(ctx)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	return err
}

// Run is one recent action of a schedule.
type Run struct {
	ScheduledAt time.Time `json:"scheduled_at"`
	StartedAt   time.Time `json:"started_at"`
	WorkflowID  string    `json:"workflow_id"`
}

// State is what Temporal says about a schedule.
type State struct {
	Paused     bool        `json:"paused"`
	Note       string      `json:"note,omitempty"`
	NextRuns   []time.Time `json:"next_runs"`
	RecentRuns []Run       `json:"recent_runs"`
	Running    []string    `json:"running"`
	Actions    int         `json:"actions"`
	Skipped    int         `json:"skipped_overlap"`
}

// Describe reads the schedule's live state from Temporal.
func (y Syncer) Describe(ctx context.Context, id uuid.UUID) (State, error) {
	d, err := y.Client.ScheduleClient().GetHandle(ctx, schedule.ID(id)).Describe(ctx)
	if err != nil {
		return State{}, err
	}
	st := State{NextRuns: d.Info.NextActionTimes, Actions: d.Info.NumActions, Skipped: d.Info.NumActionsSkippedOverlap,
		RecentRuns: []Run{}, Running: []string{}}
	if st.NextRuns == nil {
		st.NextRuns = []time.Time{}
	}
	if d.Schedule.State != nil {
		st.Paused, st.Note = d.Schedule.State.Paused, d.Schedule.State.Note
	}
	for i := len(d.Info.RecentActions) - 1; i >= 0; i-- { // newest first
		a := d.Info.RecentActions[i]
		r := Run{ScheduledAt: a.ScheduleTime, StartedAt: a.ActualTime}
		if a.StartWorkflowResult != nil {
			r.WorkflowID = a.StartWorkflowResult.WorkflowID
		}
		st.RecentRuns = append(st.RecentRuns, r)
	}
	for _, r := range d.Info.RunningWorkflows {
		st.Running = append(st.Running, r.WorkflowID)
	}
	return st, nil
}

func wrap(err error) error {
	var ia *serviceerror.InvalidArgument
	if errors.As(err, &ia) {
		return errors.Join(ErrInvalid, err)
	}
	return err
}
