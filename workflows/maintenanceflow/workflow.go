// Package maintenanceflow is the platform's housekeeping (contract:
// internal/contract/maintenance): a platform Schedule runs it every hour, so
// the jobs that used to hide in the workers' goroutines (erasing unrevealed
// first API keys, warming the Stripe catalogue) show their runs, failures
// and retries in the Web UI. The schedule is created by the workers
// (workers.EnsureSchedules), and triggered once when it is first created.
package maintenanceflow

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/maintenance"
	"github.com/secureops/secureops/internal/contract/sla"
	"github.com/secureops/secureops/internal/temporalx"
)

// Register registers the workflow under its stable name.
func Register(reg temporalx.WorkflowRegistry) { maintenance.Workflow.Register(reg, Workflow) }

// Workflow runs one pass: each job on its own, so one failing does not keep
// the other from running; the pass fails (and shows so) if either did.
func Workflow(ctx workflow.Context) (maintenance.Summary, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// The onboarding queue's workers hold the seal key's table and the
		// Stripe credentials.
		TaskQueue:           temporalx.QueueOnboarding,
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5,
		},
	})
	var sum maintenance.Summary
	keys := maintenance.PurgeInitialKeys.Execute(ctx)
	catalog := maintenance.WarmCatalog.Execute(ctx)
	// Every active tenant keeps its SLA timers (sla/<tenant-id>): one whose
	// workflow ended or never started gets one. The activity talks to
	// Temporal from the scans queue, where the SLA workflows run.
	var timers temporalx.Future[int]
	ensure := workflow.GetVersion(ctx, "sla-ensure", workflow.DefaultVersion, 1) == 1
	if ensure {
		timers = sla.Ensure.Execute(workflow.WithTaskQueue(ctx, temporalx.QueueScans))
	}
	var keysErr, catalogErr, timersErr error
	sum.InitialKeysPurged, keysErr = keys.Result(ctx)
	sum.Catalog, catalogErr = catalog.Result(ctx)
	if ensure {
		sum.SLATimers, timersErr = timers.Result(ctx)
	}
	return sum, errors.Join(keysErr, catalogErr, timersErr)
}
