// Package gateflow is the per-tenant scan gate (contract:
// internal/contract/gate): one long-lived entity workflow per tenant that
// hands out the tier's concurrent-scan slots in arrival order. Its state lives
// in Temporal, so it survives restarts of every process, and each tenant has
// its own gate, so one tenant's burst never delays another's.
package gateflow

import (
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/gate"
	"github.com/secureops/secureops/internal/temporalx"
)

// idleAfter is how long an empty gate waits for new work before it ends; the
// next scan starts it again (signal-with-start).
const idleAfter = 10 * time.Minute

// leaseEvery is how often slots held by scans that ended without releasing
// (terminated from the UI, say) are reclaimed.
const leaseEvery = 2 * time.Minute

// Register registers the workflow under its stable name. The gate returns
// only an error, so it is registered by name rather than through a typed
// reference.
func Register(reg temporalx.WorkflowRegistry) {
	reg.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: gate.WorkflowName})
}

// Workflow runs a tenant's gate.
func Workflow(ctx workflow.Context, in gate.Input) error {
	g := &gateWF{state: gate.State{Limit: 1}}
	if in.State != nil {
		g.state = *in.State
	}
	if err := workflow.SetQueryHandler(ctx, gate.QueryState, func() (gate.State, error) { return g.state, nil }); err != nil {
		return err
	}
	acquire := workflow.GetSignalChannel(ctx, gate.SignalAcquire)
	acquireMany := workflow.GetSignalChannel(ctx, gate.SignalAcquireMany)
	release := workflow.GetSignalChannel(ctx, gate.SignalRelease)
	drain := func() bool { return g.drain(ctx, acquire, acquireMany, release) }
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	lastWork := workflow.Now(ctx)
	for {
		g.grant(ctx)
		if g.empty() && workflow.Now(ctx).Sub(lastWork) >= idleAfter {
			// Signals that arrived meanwhile must be served, not dropped.
			if !drain() {
				return nil
			}
			continue
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Granting waits on signal deliveries, and signals that arrive
			// meanwhile would be lost with this run: drain until quiet.
			for {
				g.grant(ctx)
				if !drain() {
					break // nothing arrived since the last blocking call
				}
			}
			st := g.state
			return workflow.NewContinueAsNewError(ctx, gate.WorkflowName, gate.Input{TenantID: in.TenantID, State: &st})
		}
		wait := leaseEvery
		if g.empty() {
			wait = idleAfter - workflow.Now(ctx).Sub(lastWork)
		}
		tctx, cancel := workflow.WithCancel(ctx)
		timedOut := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(acquire, func(c workflow.ReceiveChannel, _ bool) {
			var r gate.AcquireRequest
			c.Receive(ctx, &r)
			g.onAcquire(ctx, r)
		})
		sel.AddReceive(acquireMany, func(c workflow.ReceiveChannel, _ bool) {
			var rs []gate.AcquireRequest
			c.Receive(ctx, &rs)
			for _, r := range rs {
				g.onAcquire(ctx, r)
			}
		})
		sel.AddReceive(release, func(c workflow.ReceiveChannel, _ bool) {
			var r gate.ReleaseRequest
			c.Receive(ctx, &r)
			g.onRelease(r)
		})
		sel.AddFuture(workflow.NewTimer(tctx, wait), func(workflow.Future) { timedOut = true })
		sel.Select(ctx)
		cancel()
		if !timedOut {
			lastWork = workflow.Now(ctx)
			continue
		}
		if len(g.state.Running) > 0 {
			if gone, err := gate.Ended.Run(actx, g.state.Running); err == nil {
				for _, id := range gone {
					g.onRelease(gate.ReleaseRequest{ScanWorkflowID: id})
				}
			}
		}
	}
}

type gateWF struct {
	state gate.State
}

func (g *gateWF) empty() bool { return len(g.state.Running) == 0 && len(g.state.Queue) == 0 }

func (g *gateWF) onAcquire(ctx workflow.Context, r gate.AcquireRequest) {
	if r.Limit > 0 {
		g.state.Limit = r.Limit
	}
	switch {
	case slices.Contains(g.state.Running, r.ScanWorkflowID):
		// A reset scan asks again for the slot it holds: grant it again.
		g.signal(ctx, r.ScanWorkflowID)
	case slices.ContainsFunc(g.state.Queue, func(q gate.Waiter) bool { return q.ScanWorkflowID == r.ScanWorkflowID }):
	default:
		w := gate.Waiter{ScanWorkflowID: r.ScanWorkflowID, RequestedAt: r.RequestedAt}
		// Stable insert by request time: earlier requests first, ties in
		// arrival order.
		i := len(g.state.Queue)
		for i > 0 && g.state.Queue[i-1].RequestedAt.After(w.RequestedAt) {
			i--
		}
		g.state.Queue = slices.Insert(g.state.Queue, i, w)
	}
}

func (g *gateWF) onRelease(r gate.ReleaseRequest) {
	g.state.Running = slices.DeleteFunc(g.state.Running, func(s string) bool { return s == r.ScanWorkflowID })
	g.state.Queue = slices.DeleteFunc(g.state.Queue, func(q gate.Waiter) bool { return q.ScanWorkflowID == r.ScanWorkflowID })
}

// grant hands free slots to the oldest waiters. A waiter that is gone (its
// workflow ended while queued) loses its turn instead of holding a slot.
func (g *gateWF) grant(ctx workflow.Context) {
	for len(g.state.Running) < max(g.state.Limit, 1) && len(g.state.Queue) > 0 {
		next := g.state.Queue[0].ScanWorkflowID
		g.state.Queue = g.state.Queue[1:]
		if g.signal(ctx, next) {
			g.state.Running = append(g.state.Running, next)
		}
	}
}

func (g *gateWF) signal(ctx workflow.Context, scanWorkflowID string) bool {
	err := workflow.SignalExternalWorkflow(ctx, scanWorkflowID, "", gate.SignalGranted, nil).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("scan slot not delivered; skipping the waiter", "scan", scanWorkflowID, "error", err)
		return false
	}
	return true
}

// drain serves every signal already delivered; it reports whether there was any.
func (g *gateWF) drain(ctx workflow.Context, acquire, acquireMany, release workflow.ReceiveChannel) bool {
	any := false
	for {
		var a gate.AcquireRequest
		if acquire.ReceiveAsync(&a) {
			g.onAcquire(ctx, a)
			any = true
			continue
		}
		var as []gate.AcquireRequest
		if acquireMany.ReceiveAsync(&as) {
			for _, a := range as {
				g.onAcquire(ctx, a)
			}
			any = true
			continue
		}
		var r gate.ReleaseRequest
		if release.ReceiveAsync(&r) {
			g.onRelease(r)
			any = true
			continue
		}
		return any
	}
}
