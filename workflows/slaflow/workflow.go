// Package slaflow is a tenant's SLA timers (contract: internal/contract/sla):
// one entity workflow per tenant, sla/<tenant-id>. It sleeps until the next
// instant a finding comes due within three days or passes its deadline (or
// sla.MaxSleep, whichever is sooner), then one Check activity records the
// notices that instant decides (once per finding and stage, in the
// transaction that decides them) and the finding.sla_breached event of
// overdue criticals; an email activity sends what is not emailed yet, and a
// Notify child delivers the event. A deadlines-changed signal wakes it at
// once. Every sla.CyclesPerRun wake-ups it continues as new, carrying only
// the absolute time of its next wake-up.
package slaflow

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/contract/sla"
	"github.com/secureops/secureops/internal/temporalx"
)

// Register registers the workflow under its stable name. It returns only an
// error, so it is registered by name.
func Register(reg temporalx.WorkflowRegistry) {
	reg.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: sla.WorkflowName})
}

func checkOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaximumAttempts: 30,
		},
	}
}

func emailOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueOnboarding,
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute,
			MaximumAttempts: 10, NonRetryableErrorTypes: []string{notify.ErrEmailRejected},
		},
	}
}

// Workflow runs a tenant's SLA timers until the tenant is no longer active.
func Workflow(ctx workflow.Context, in sla.Input) error {
	changed := workflow.GetSignalChannel(ctx, sla.SignalDeadlinesChanged)
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	wake := in.Wake
	for cycle := 0; ; {
		if now := workflow.Now(ctx); wake.After(now) {
			if sleep(ctx, changed, wake.Sub(now)) {
				wake = time.Time{} // woken by a signal: look at once
			}
			continue
		}
		now := workflow.Now(ctx)
		res, err := sla.Check.Run(workflow.WithActivityOptions(ctx, checkOptions()),
			sla.CheckInput{TenantID: in.TenantID, Now: now, BatchKey: id + "/" + now.UTC().Format(time.RFC3339Nano)})
		if err != nil {
			// Retries exhausted (database down for long): look again later.
			workflow.GetLogger(ctx).Error("SLA check failed", "error", err)
			wake = now.Add(time.Hour)
		} else {
			if !res.Active {
				return nil // the tenant is suspended, cancelled or gone
			}
			if err := send(ctx, in, res); err != nil {
				workflow.GetLogger(ctx).Error("SLA notices not all sent; the next wake-up sends them", "error", err)
			}
			wake = now.Add(sla.MaxSleep)
			if !res.Next.IsZero() && res.Next.Before(wake) {
				wake = res.Next
			}
		}
		cycle++
		if cycle >= sla.CyclesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// A signal that arrived meanwhile would be lost with this run.
			if drain(changed) {
				wake = time.Time{}
			}
			return workflow.NewContinueAsNewError(ctx, sla.WorkflowName, sla.Input{TenantID: in.TenantID, Wake: wake})
		}
	}
}

// sleep waits d or until a signal; it reports whether a signal came (every
// signal already queued is consumed: one look serves them all).
func sleep(ctx workflow.Context, changed workflow.ReceiveChannel, d time.Duration) bool {
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	signalled := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(changed, func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, nil)
		signalled = true
	})
	sel.AddFuture(workflow.NewTimer(tctx, d), func(workflow.Future) {})
	sel.Select(ctx)
	if signalled {
		drain(changed)
	}
	return signalled
}

// drain consumes the signals already queued; it reports whether there were any.
func drain(changed workflow.ReceiveChannel) bool {
	got := false
	for changed.ReceiveAsync(nil) {
		got = true
	}
	return got
}

// send emails the notices not emailed yet and delivers the pending
// finding.sla_breached events through a Notify child named by the first
// delivery (a retried or reset run joins the running child).
func send(ctx workflow.Context, in sla.Input, res sla.CheckResult) error {
	var errs []error
	if res.Email {
		if _, err := sla.Emails.Run(workflow.WithActivityOptions(ctx, emailOptions()), sla.EmailsInput{TenantID: in.TenantID}); err != nil {
			errs = append(errs, err)
		}
	}
	if len(res.DeliveryIDs) > 0 {
		cctx := workflow.WithChildOptions(ctx, sla.NotifyChildOptions(in.TenantID, res.DeliveryIDs[0]))
		c := notify.Workflow.ExecuteChild(cctx, notify.Input{TenantID: in.TenantID, DeliveryIDs: res.DeliveryIDs})
		// The deliveries outlive this wake-up: wait only until the child started.
		if err := c.GetChildWorkflowExecution().Get(ctx, nil); err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
