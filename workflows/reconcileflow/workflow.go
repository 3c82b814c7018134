// Package reconcileflow is the scan reconciler (contract:
// internal/contract/reconcile): a platform Schedule runs it every few
// minutes, so operators see each pass, its result and its failures in the
// Web UI like any other process. The schedule itself is created by the
// workers (workers.EnsureSchedules).
package reconcileflow

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/reconcile"
	"github.com/secureops/secureops/internal/temporalx"
)

// Register registers the workflow under its stable name.
func Register(reg temporalx.WorkflowRegistry) { reconcile.Workflow.Register(reg, Workflow) }

// Workflow runs one reconciliation pass: scans, then sign-ups; a failure of
// one does not keep the other from running.
func Workflow(ctx workflow.Context) (reconcile.Summary, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5,
		},
	})
	var sum reconcile.Summary
	var scansErr, signupsErr error
	sum.Scans, scansErr = reconcile.Scans.Run(ctx)
	sum.SignupsWithdrawn, signupsErr = reconcile.Signups.Run(ctx)
	return sum, errors.Join(scansErr, signupsErr)
}
