package temporalx

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"
)

// ActivityRegistry is the part of a worker (or a test environment) that
// activities register with.
type ActivityRegistry interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// WorkflowRegistry is the part of a worker (or a test environment or a
// replayer) that workflows register with.
type WorkflowRegistry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// Activity is a typed reference to an activity: its registered name with its
// input and result types. A contract package declares one per activity; the
// workflow calls it and the activities package registers its implementation
// through it, so the compiler checks both sides against the same types and
// the name is written once. The name is what histories record: it never
// changes, whatever the Go method is called.
//
//	var Finish = temporalx.NewActivity[FinishInput, Counts]("store.ScanFinish") // internal/contract/scan
//	counts, err := scan.Finish.Run(ctx, in)                                     // workflows/scanflow
//	scan.Finish.Register(reg, a.ScanFinish)                                     // activities/store.Register
type Activity[I, R any] struct{ Name string }

// NewActivity declares an activity returning R.
func NewActivity[I, R any](name string) Activity[I, R] { return Activity[I, R]{Name: name} }

// Execute schedules the activity with the options already on ctx.
func (a Activity[I, R]) Execute(ctx workflow.Context, in I) Future[R] {
	return Future[R]{workflow.ExecuteActivity(ctx, a.Name, in)}
}

// Run executes the activity and waits for its result.
func (a Activity[I, R]) Run(ctx workflow.Context, in I) (R, error) {
	return a.Execute(ctx, in).Result(ctx)
}

// Register binds fn as the activity's implementation.
func (a Activity[I, R]) Register(reg ActivityRegistry, fn func(context.Context, I) (R, error)) {
	reg.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: a.Name})
}

// Future is a pending activity result of type R.
type Future[R any] struct{ workflow.Future }

// Result waits for and decodes the result.
func (f Future[R]) Result(ctx workflow.Context) (R, error) {
	var r R
	err := f.Get(ctx, &r)
	return r, err
}

// Action is a typed reference to an activity that returns only an error.
type Action[I any] struct{ Name string }

// NewAction declares an activity without a result.
func NewAction[I any](name string) Action[I] { return Action[I]{Name: name} }

// Execute schedules the activity with the options already on ctx.
func (a Action[I]) Execute(ctx workflow.Context, in I) workflow.Future {
	return workflow.ExecuteActivity(ctx, a.Name, in)
}

// Run executes the activity and waits for it to end.
func (a Action[I]) Run(ctx workflow.Context, in I) error {
	return a.Execute(ctx, in).Get(ctx, nil)
}

// Register binds fn as the activity's implementation.
func (a Action[I]) Register(reg ActivityRegistry, fn func(context.Context, I) error) {
	reg.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: a.Name})
}

// Workflow is a typed reference to a workflow: its registered name with its
// input and result types, for children started by other workflows and for
// registration.
type Workflow[I, R any] struct{ Name string }

// NewWorkflow declares a workflow.
func NewWorkflow[I, R any](name string) Workflow[I, R] { return Workflow[I, R]{Name: name} }

// Register binds fn as the workflow's implementation.
func (w Workflow[I, R]) Register(reg WorkflowRegistry, fn func(workflow.Context, I) (R, error)) {
	reg.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: w.Name})
}

// ExecuteChild starts the workflow as a child with the options on ctx.
func (w Workflow[I, R]) ExecuteChild(ctx workflow.Context, in I) workflow.ChildWorkflowFuture {
	return workflow.ExecuteChildWorkflow(ctx, w.Name, in)
}

// Activity0 is a typed reference to an activity that takes no input (the
// reconciler's passes, the maintenance jobs): its recorded commands carry no
// argument, so adding one would break their histories.
type Activity0[R any] struct{ Name string }

// NewActivity0 declares an activity without input returning R.
func NewActivity0[R any](name string) Activity0[R] { return Activity0[R]{Name: name} }

// Execute schedules the activity with the options already on ctx.
func (a Activity0[R]) Execute(ctx workflow.Context) Future[R] {
	return Future[R]{workflow.ExecuteActivity(ctx, a.Name)}
}

// Run executes the activity and waits for its result.
func (a Activity0[R]) Run(ctx workflow.Context) (R, error) {
	return a.Execute(ctx).Result(ctx)
}

// Register binds fn as the activity's implementation.
func (a Activity0[R]) Register(reg ActivityRegistry, fn func(context.Context) (R, error)) {
	reg.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: a.Name})
}

// Workflow0 is a typed reference to a workflow without input (those a
// platform Schedule starts).
type Workflow0[R any] struct{ Name string }

// NewWorkflow0 declares a workflow without input.
func NewWorkflow0[R any](name string) Workflow0[R] { return Workflow0[R]{Name: name} }

// Register binds fn as the workflow's implementation.
func (w Workflow0[R]) Register(reg WorkflowRegistry, fn func(workflow.Context) (R, error)) {
	reg.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: w.Name})
}

// ActivityRunID is the workflow run an activity belongs to; "" outside
// Temporal (an activity method called directly by a test or a tool). Store
// activities key ownership of a scan by it.
func ActivityRunID(ctx context.Context) string {
	if !activity.IsActivity(ctx) {
		return ""
	}
	return activity.GetInfo(ctx).WorkflowExecution.RunID
}

// KeepAlive heartbeats every interval until the returned stop is called:
// for an activity whose steps (a model's answer) may outlast its heartbeat
// timeout, so the timeout tells a dead worker from a slow step. Outside an
// activity (a test calling the method) it does nothing.
//
//	defer temporalx.KeepAlive(ctx, 15*time.Second)()
func KeepAlive(ctx context.Context, every time.Duration) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}
