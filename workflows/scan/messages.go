// Package scan is the Scan workflow: one scan of one target by one or more
// scanners, from policy check to stored, de-duplicated findings.
package scan

import (
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/activities/store"
	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name; the API starts scans by it.
const WorkflowName = "Scan"

// QueryProgress returns the live Progress of a scan.
const QueryProgress = "progress"

// WorkflowID is the id of the scan's workflow: one workflow per scan, ever.
func WorkflowID(scanID uuid.UUID) string { return "scan/" + scanID.String() }

// Input starts a scan.
type Input struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ScanID   uuid.UUID `json:"scan_id"`
	Target   string    `json:"target"`
	Scanners []string  `json:"scanners"`
	// ReportID makes the scan an import: the report of Scanners[0] was
	// uploaded and stored already, so no scanner runs and no target is
	// touched; the same ingest path stores it.
	ReportID *uuid.UUID `json:"report_id,omitempty"`
}

// StartOptions start the workflow of a scan whose row exists: one workflow
// per scan, ever, so a second start of the same scan is refused rather than
// run twice.
func StartOptions(in Input) client.StartWorkflowOptions {
	kind := "scan"
	if in.ReportID != nil {
		kind = "import"
	}
	return client.StartWorkflowOptions{
		ID:                       WorkflowID(in.ScanID),
		TaskQueue:                temporalx.QueueScans,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(in.TenantID.String()),
			temporalx.SAKind.ValueSet(kind),
			temporalx.ScanTargetValue(in.Target),
		),
	}
}

// Result is what a completed scan produced.
type Result struct {
	Status   string         `json:"status"`
	Counts   map[string]int `json:"counts"`
	Findings int            `json:"findings"`
	Diff     *store.Diff    `json:"diff,omitempty"`
}

// Progress is the answer of the progress query.
type Progress struct {
	Status     string        `json:"status"`
	Percent    int           `json:"percent"`
	Step       string        `json:"step"`
	Scanners   []ScannerStep `json:"scanners"`
	UpdatedAt  time.Time     `json:"updated_at"`
	FinishedAt *time.Time    `json:"finished_at,omitempty"`
	Error      string        `json:"error,omitempty"`
}

// ScannerStep is the state of one scanner within the scan.
type ScannerStep struct {
	Scanner  string `json:"scanner"`
	State    string `json:"state"` // pending, running, done, failed
	Findings int    `json:"findings"`
}

// RegisterOptions registers ScanWorkflow under its stable name.
func RegisterOptions() workflow.RegisterOptions { return workflow.RegisterOptions{Name: WorkflowName} }
