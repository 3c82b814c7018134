// Package schedule is the contract of scheduled scans
// (workflows/scheduleflow): the workflow each scan schedule's Temporal
// Schedule starts, and the sync that pauses a suspended tenant's schedules
// (and resumes them with the tenant).
package schedule

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the workflow each scheduled run starts.
const WorkflowName = "ScheduledScan"

// Workflow is the typed reference of the run's workflow.
var Workflow = temporalx.NewWorkflow[RunInput, scan.Result](WorkflowName)

// ID is the Temporal Schedule of a scan schedule.
func ID(scheduleID uuid.UUID) string { return "scan-schedule/" + scheduleID.String() }

// RunWorkflowID is the id of a schedule's runs; Temporal appends the
// scheduled time to it for each run.
func RunWorkflowID(scheduleID uuid.UUID) string { return "scheduled-scan/" + scheduleID.String() }

// Kind is the Kind search attribute of scheduled runs.
const Kind = "scheduled-scan"

// RunInput is what each run of the schedule starts ScheduledScan with.
type RunInput struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	ScheduleID uuid.UUID `json:"schedule_id"`
}

// SyncWorkflowName is the registered name of the tenant sync.
const SyncWorkflowName = "SyncTenantSchedules"

// SyncWorkflow is the typed reference of the tenant sync: it takes the
// tenant id and returns how many schedules it brought in line.
var SyncWorkflow = temporalx.NewWorkflow[uuid.UUID, int](SyncWorkflowName)

// SyncWorkflowID is one sync per tenant at a time (the newest wins).
func SyncWorkflowID(tenantID uuid.UUID) string { return "tenant-schedules/" + tenantID.String() }

// SyncStartOptions start a tenant's sync: the newest request wins (it reads
// the status when it runs), so a running sync is replaced.
func SyncStartOptions(tenantID uuid.UUID) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       SyncWorkflowID(tenantID),
		TaskQueue:                temporalx.QueueScans,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}
}

// ErrScheduleGone is the non-retryable type of a run whose schedule was
// deleted, or whose tenant may not scan (suspended, cancelled, failed): the
// failed run pauses the schedule.
const ErrScheduleGone = "ScheduleGone"

// Activities of scheduled scans. Ensure is called by onboarding (the
// initial target's weekly scan).
var (
	CreateScan = temporalx.NewActivity[ScanInput, Scan]("store.ScheduledScanCreate")
	SyncTenant = temporalx.NewActivity[uuid.UUID, int]("schedules.SyncTenant")
	Ensure     = temporalx.NewActivity[EnsureInput, uuid.UUID]("schedules.Ensure")
)

// ScanInput is one run of a schedule.
type ScanInput struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	ScheduleID uuid.UUID `json:"schedule_id"`
	// RunKey is the run's workflow id (unique per scheduled time): the scan
	// id is derived from it, so a retry or a reset finds the same scan.
	RunKey string `json:"run_key"`
}

// Scan is the scan a run created.
type Scan struct {
	ScanID   uuid.UUID `json:"scan_id"`
	Target   string    `json:"target"`
	Scanners []string  `json:"scanners"`
}

// EnsureInput is a recurring scan to have.
type EnsureInput struct {
	TenantID    uuid.UUID     `json:"tenant_id"`
	TargetID    uuid.UUID     `json:"target_id"`
	Scanners    []string      `json:"scanners"`
	Interval    time.Duration `json:"interval"`
	Description string        `json:"description"`
}
