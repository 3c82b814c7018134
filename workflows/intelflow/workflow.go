// Package intelflow is the threat-intelligence refresh (contract:
// internal/contract/intel): the platform Schedule intel/refresh runs it
// daily. It refreshes the KEV catalogue and the EPSS scores, each on its
// own (a refused or unreachable feed leaves the old data and does not stop
// the rest), re-prioritises the open findings page by page, then sends what
// alerts are pending: per tenant an email (activity on the onboarding queue)
// and the finding.kev deliveries, through a Notify child workflow.
package intelflow

import (
	"errors"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/intel"
	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/temporalx"
)

// Register registers the workflow under its stable name.
//
// The workflow's own id (the schedule's intel/refresh-<time>) is only the
// batch key of its activities, never part of a command, so recorded
// histories replay under any id.
func Register(reg temporalx.WorkflowRegistry) { intel.Workflow.Register(reg, Workflow) }

// Workflow runs one refresh.
func Workflow(ctx workflow.Context) (intel.Summary, error) {
	w := &refresh{id: workflow.GetInfo(ctx).WorkflowExecution.ID}
	return w.run(ctx)
}

type refresh struct {
	id  string
	sum intel.Summary
}

// Downloads take a while (EPSS ≈ 2 MB gzip, 300k rows); a failing feed is
// retried for about an hour, then waits for tomorrow's run.
func feedOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 30 * time.Second, BackoffCoefficient: 2, MaximumInterval: 15 * time.Minute,
			MaximumAttempts: 6, NonRetryableErrorTypes: intel.NonRetryable,
		},
	}
}

// A page is one transaction over PageSize findings.
func storeOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 20,
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

func (w *refresh) run(ctx workflow.Context) (intel.Summary, error) {
	fctx := workflow.WithActivityOptions(ctx, feedOptions())
	kev := intel.RefreshKEV.Execute(fctx)
	epss := intel.RefreshEPSS.Execute(fctx)
	var kevErr, epssErr error
	w.sum.KEV, kevErr = kev.Result(ctx)
	w.sum.EPSS, epssErr = epss.Result(ctx)
	for _, err := range []error{kevErr, epssErr} {
		if err != nil {
			workflow.GetLogger(ctx).Error("intel feed refresh failed; the old data stays", "error", err)
		}
	}
	// Re-prioritise even when a feed failed: the other may have changed, and
	// deadlines follow tenants' SLA settings.
	sctx := workflow.WithActivityOptions(ctx, storeOptions())
	after := uuid.Nil
	for {
		p, err := intel.Reprioritize.Run(sctx, intel.PageInput{After: after, Limit: intel.PageSize, BatchKey: w.id})
		if err != nil {
			return w.sum, errors.Join(kevErr, epssErr, err)
		}
		w.sum.Pages++
		w.sum.Findings += p.Seen
		w.sum.Updated += p.Updated
		w.sum.Alerts += p.Alerts
		if p.Done || p.Last == uuid.Nil {
			break
		}
		after = p.Last
	}
	sendErr := w.send(ctx, sctx)
	return w.sum, errors.Join(kevErr, epssErr, sendErr)
}

// send emails and delivers every pending KEV alert, this run's and any an
// earlier run left; each tenant's on its own.
func (w *refresh) send(ctx, sctx workflow.Context) error {
	pending, err := intel.PendingAlerts.Run(sctx)
	if err != nil {
		return err
	}
	ectx := workflow.WithActivityOptions(ctx, emailOptions())
	var emails []workflow.Future
	var children []workflow.ChildWorkflowFuture
	for _, t := range pending {
		w.sum.Tenants++
		if t.Email {
			emails = append(emails, intel.KEVEmails.Execute(ectx, intel.KEVEmailsInput{TenantID: t.TenantID}).Future)
		}
		if len(t.DeliveryIDs) > 0 {
			w.sum.Deliveries += len(t.DeliveryIDs)
			cctx := workflow.WithChildOptions(ctx, intel.NotifyChildOptions(t.TenantID, t.DeliveryIDs[0]))
			children = append(children, notify.Workflow.ExecuteChild(cctx, notify.Input{TenantID: t.TenantID, DeliveryIDs: t.DeliveryIDs}))
		}
	}
	var errs []error
	for _, f := range emails {
		if err := f.Get(ctx, nil); err != nil {
			errs = append(errs, err)
		}
	}
	// The deliveries outlive the refresh (their retries take up to 40
	// minutes): wait only until each child has started. One already running
	// under the same id (a rerun of this refresh) is delivering them.
	for _, c := range children {
		if err := c.GetChildWorkflowExecution().Get(ctx, nil); err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
