// Package schedule holds the workflows behind scan schedules: the run each
// Temporal Schedule starts, and the sync that pauses a suspended tenant's
// schedules (and resumes them with the tenant).
package schedule

import (
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	aschedules "github.com/secureops/secureops/activities/schedules"
	"github.com/secureops/secureops/activities/store"
	"github.com/secureops/secureops/internal/schedules"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/workflows/scan"
)

// SyncWorkflowName is the registered name of SyncTenantWorkflow.
const SyncWorkflowName = "SyncTenantSchedules"

// SyncWorkflowID is one sync per tenant at a time (the newest wins).
func SyncWorkflowID(tenantID uuid.UUID) string { return "tenant-schedules/" + tenantID.String() }

// RegisterOptions registers ScheduledScanWorkflow under its stable name.
func RegisterOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: schedules.WorkflowName}
}

// SyncRegisterOptions registers SyncTenantWorkflow under its stable name.
func SyncRegisterOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: SyncWorkflowName}
}

func dbOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 20,
			NonRetryableErrorTypes: []string{store.ErrScheduleGone},
		},
	}
}

// ScheduledScanWorkflow is one run of a schedule: it records the scan and
// runs it as a child, waiting for it, so the schedule's overlap policy (skip)
// sees a run in progress and a failed scan pauses the schedule.
func ScheduledScanWorkflow(ctx workflow.Context, in schedules.RunInput) (scan.Result, error) {
	actx := workflow.WithActivityOptions(ctx, dbOptions())
	var sc store.ScheduledScan
	err := workflow.ExecuteActivity(actx, store.ScheduledScanCreateName, store.ScheduledScanInput{
		TenantID: in.TenantID, ScheduleID: in.ScheduleID, RunKey: workflow.GetInfo(ctx).WorkflowExecution.ID,
	}).Get(ctx, &sc)
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
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(in.TenantID.String()),
			temporalx.SAKind.ValueSet("scan"),
			temporalx.ScanTargetValue(sc.Target),
		),
	})
	var res scan.Result
	err = workflow.ExecuteChildWorkflow(cctx, scan.WorkflowName, scan.Input{
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
	var n int
	err := workflow.ExecuteActivity(actx, aschedules.SyncTenantName, tenantID).Get(ctx, &n)
	return n, err
}
