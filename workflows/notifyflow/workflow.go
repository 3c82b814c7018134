// Package notifyflow is the Notify workflow (contract: internal/contract/notify):
// a finished scan's events, delivered to every subscribed webhook of its
// tenant, each retried with backoff on its own and marked failed when
// Temporal gives up on it.
package notifyflow

import (
	"errors"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/temporalx"
)

// Register registers the workflow under its stable name.
func Register(reg temporalx.WorkflowRegistry) { notify.Workflow.Register(reg, NotifyWorkflow) }

// NotifyWorkflow prepares a finished scan's deliveries (or takes the given
// ones) and delivers them all in parallel.
func NotifyWorkflow(ctx workflow.Context, in notify.Input) (notify.Result, error) {
	w := &notifyWorkflow{in: in}
	return w.run(ctx)
}

type notifyWorkflow struct {
	in notify.Input
}

// Database steps are short and must outlast a Postgres restart.
func storeOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			MaximumAttempts:        20,
			NonRetryableErrorTypes: notify.NonRetryable,
		},
	}
}

// DeliverRetry is a receiver's grace: about 40 minutes of retries, backing
// off from 10 s to 10 min, before the delivery is marked failed.
var DeliverRetry = temporal.RetryPolicy{
	InitialInterval:        10 * time.Second,
	BackoffCoefficient:     2,
	MaximumInterval:        10 * time.Minute,
	MaximumAttempts:        10,
	NonRetryableErrorTypes: notify.NonRetryable,
}

// One attempt is a 10 s HTTP request plus two short transactions.
func deliverOptions() workflow.ActivityOptions {
	rp := DeliverRetry
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &rp,
	}
}

func (w *notifyWorkflow) run(ctx workflow.Context) (notify.Result, error) {
	ids := w.in.DeliveryIDs
	if w.in.ScanID != uuid.Nil {
		sctx := workflow.WithActivityOptions(ctx, storeOptions())
		p, err := notify.Prepare.Run(sctx, scan.Ref{TenantID: w.in.TenantID, ScanID: w.in.ScanID})
		if err != nil {
			return notify.Result{}, err
		}
		ids = append(ids, p.DeliveryIDs...)
		// Emails go out from the onboarding queue, whose workers hold the
		// email provider's credentials. A failure here is logged, not fatal:
		// the webhooks still go.
		ectx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue:           temporalx.QueueOnboarding,
			StartToCloseTimeout: 2 * time.Minute,
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute,
				MaximumAttempts: 10, NonRetryableErrorTypes: []string{notify.ErrEmailRejected, notify.ErrScanGone},
			},
		})
		emails := notify.ScanEmails.Execute(ectx, notify.ScanEmailsInput{TenantID: w.in.TenantID, ScanID: w.in.ScanID})
		defer func() {
			if _, err := emails.Result(ctx); err != nil {
				workflow.GetLogger(ctx).Error("scan emails failed", "error", err)
			}
		}()
	}
	outcomes := make([]string, len(ids))
	wg := workflow.NewWaitGroup(ctx)
	for i, id := range ids {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			outcomes[i] = w.deliver(ctx, id)
		})
	}
	wg.Wait(ctx)
	var res notify.Result
	for _, o := range outcomes {
		switch o {
		case "delivered":
			res.Delivered++
		case "gone":
			res.Gone++
		default:
			res.Failed++
		}
	}
	return res, nil
}

// deliver runs one delivery to its end and returns delivered, failed or gone.
// Each delivery fails on its own: one dead receiver neither delays nor fails
// the others, nor the workflow.
func (w *notifyWorkflow) deliver(ctx workflow.Context, id uuid.UUID) string {
	ref := notify.DeliveryRef{TenantID: w.in.TenantID, DeliveryID: id}
	r, err := notify.Deliver.Run(workflow.WithActivityOptions(ctx, deliverOptions()), ref)
	if err == nil {
		return r.Status
	}
	reason := "gave up: " + errorMessage(err)
	if temporal.IsCanceledError(err) || ctx.Err() != nil {
		reason = "cancelled before it was delivered"
	}
	// A cancelled workflow still closes its deliveries, so none stays
	// pending forever.
	mctx, _ := workflow.NewDisconnectedContext(ctx)
	mctx = workflow.WithActivityOptions(mctx, storeOptions())
	if merr := notify.MarkFailed.Run(mctx,
		notify.MarkFailedInput{TenantID: w.in.TenantID, DeliveryID: id, Reason: reason}); merr != nil {
		workflow.GetLogger(ctx).Error("marking a delivery failed", "delivery_id", id.String(), "error", merr)
	}
	return "failed"
}

// errorMessage is the innermost message of an activity failure, without
// Temporal's wrapping ("activity error (type: …)").
func errorMessage(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return "the attempt timed out"
	}
	return err.Error()
}
