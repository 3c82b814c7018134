// Package scheduleflow holds the workflows behind scan schedules (contract:
// internal/contract/schedule): the run each Temporal Schedule starts, and the
// sync that pauses a suspended tenant's schedules (and resumes them with the
// tenant).
package scheduleflow

import (
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/contract/schedule"
	"github.com/secureops/secureops/internal/temporalx"
)

// Register registers both workflows under their stable names.
func Register(reg temporalx.WorkflowRegistry) {
	schedule.Workflow.Register(reg, ScheduledScanWorkflow)
	schedule.SyncWorkflow.Register(reg, SyncTenantWorkflow)
}

func dbOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 20,
			NonRetryableErrorTypes: []string{schedule.ErrScheduleGone},
		},
	}
}

// ScheduledScanWorkflow is one run of a schedule: it records the scan and
// runs it as a child, waiting for it, so the schedule's overlap policy (skip)
// sees a run in progress and a failed scan pauses the schedule.
func ScheduledScanWorkflow(ctx workflow.Context, in schedule.RunInput) (scan.Result, error) {
	actx := workflow.WithActivityOptions(ctx, dbOptions())
	sc, err := schedule.CreateScan.Run(actx, schedule.ScanInput{
		TenantID: in.TenantID, ScheduleID: in.ScheduleID, RunKey: workflow.GetInfo(ctx).WorkflowExecution.ID,
	})
	if err != nil {
		return scan.Result{}, err
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: scan.WorkflowID(sc.ScanID),
		TaskQueue:  temporalx.QueueScans,
		// Cancelling the run (or the schedule's workflow) cancels the scan.
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		// A reset of this run re-runs its scan, which takes the row over.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: scan.SearchAttributes(in.TenantID, scan.Kind, sc.Target),
	})
	var res scan.Result
	err = scan.Workflow.ExecuteChild(cctx, scan.Input{
		TenantID: in.TenantID, ScanID: sc.ScanID, Target: sc.Target, Scanners: sc.Scanners,
	}).Get(ctx, &res)
	return res, err
}

// SyncTenantWorkflow brings the Temporal pause state of every schedule in a
// tenant's subtree in line with the tenants' status: suspended tenants'
// schedules pause, resumed ones run again unless their owner paused them.
func SyncTenantWorkflow(ctx workflow.Context, tenantID uuid.UUID) (int, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: 5 * time.Minute},
	})
	return schedule.SyncTenant.Run(actx, tenantID)
}
