// Package scan is the contract of the Scan workflow (workflows/scanflow): what
// its callers (the API, the reconciler, scheduled runs, onboarding's baseline
// scan) need to start, watch and recognise a scan, and the typed references
// of the activities the workflow calls, with their inputs and results. It is
// a leaf: the SDK, uuid and small internal packages only, so the API links no
// activity code and the activities import no workflow.
package scan

import (
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name; the API starts scans by it.
const WorkflowName = "Scan"

// Workflow is the typed reference of the workflow (registration, children).
var Workflow = temporalx.NewWorkflow[Input, Result](WorkflowName)

// QueryProgress returns the live Progress of a scan.
const QueryProgress = "progress"

// Kind search attribute values of scans.
const (
	Kind       = "scan"
	KindImport = "import"
)

// WorkflowID is the id of the scan's workflow: one workflow per scan, ever.
func WorkflowID(scanID uuid.UUID) string { return "scan/" + scanID.String() }

// Known lists the scanners the scanner activity can start; the API validates
// requested scanner names against it. Whether a worker has a scanner's
// binary is only known on that worker, so the activity reports a missing one
// itself.
var Known = map[string]bool{
	"nmap": true, "nikto": true, "secureops": true, "zap": true, "trivy": true, "nuclei": true,
}

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

// SearchAttributes of a scan's workflow: tenant, kind and target.
func SearchAttributes(tenantID uuid.UUID, kind, target string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		temporalx.SATenantID.ValueSet(tenantID.String()),
		temporalx.SAKind.ValueSet(kind),
		temporalx.ScanTargetValue(target),
	)
}

// StartOptions start the workflow of a scan whose row exists: one workflow
// per scan, ever, so a second start of the same scan is refused rather than
// run twice.
func StartOptions(in Input) client.StartWorkflowOptions {
	kind := Kind
	if in.ReportID != nil {
		kind = KindImport
	}
	return client.StartWorkflowOptions{
		ID:                       WorkflowID(in.ScanID),
		TaskQueue:                temporalx.QueueScans,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes:    SearchAttributes(in.TenantID, kind, in.Target),
	}
}

// Result is what a completed scan produced.
type Result struct {
	Status   string         `json:"status"`
	Counts   map[string]int `json:"counts"`
	Findings int            `json:"findings"`
	Diff     *Diff          `json:"diff,omitempty"`
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

// Error types the scan's activities fail with. The non-retryable ones end the
// scan at once; those in UserFacing carry a message meant for the tenant.
const (
	// ErrTargetNotVerified: an active scan of a target whose owner has not
	// proved control of it.
	ErrTargetNotVerified = "TargetNotVerified"
	// ErrReportMalformed: a report no parser can read.
	ErrReportMalformed = "ReportMalformed"
	// ErrScanGone: the scan's row is missing (or this run already finished it).
	ErrScanGone = "ScanGone"
	// ErrScanNotFinished: usage asked for a scan that has not ended, a
	// sequencing bug a retry cannot fix.
	ErrScanNotFinished = "ScanNotFinished"
	// ErrInvalidArgument: an input no retry makes valid.
	ErrInvalidArgument = "InvalidArgument"
	// Scanner refusals: retrying cannot make a refused or unparseable target
	// acceptable.
	ErrInvalidTarget     = "InvalidTarget"
	ErrTargetNotAllowed  = "TargetNotAllowed"
	ErrUnknownScanner    = "UnknownScanner"
	ErrScannerNotPresent = "ScannerNotInstalled"
	ErrReportTooLarge    = "ReportTooLarge"
	// ErrDefectDojoRejected: DefectDojo refused the re-import.
	ErrDefectDojoRejected = "DefectDojoRejected"
)

// UserFacing lists the error types whose message is meant for the tenant
// (why a target was refused, what is wrong with a report). Anything else may
// carry internals (database hosts, scanner stderr) and stays in the history.
var UserFacing = map[string]bool{
	ErrInvalidTarget: true, ErrTargetNotAllowed: true, ErrUnknownScanner: true,
	ErrScannerNotPresent: true, ErrReportMalformed: true, ErrReportTooLarge: true,
	ErrTargetNotVerified: true,
}

// Activities the Scan workflow calls. The names are what histories record:
// they never change, whatever the Go methods are called.
var (
	MarkRunning = temporalx.NewAction[Ref]("store.ScanMarkRunning")
	Claim       = temporalx.NewAction[Ref]("store.ScanClaim")
	Authorize   = temporalx.NewActivity[Ref, Authorization]("store.ScanAuthorize")
	// ProveOwnership re-checks the target's ownership proof at the address
	// about to be scanned, right before the scanners run.
	ProveOwnership = temporalx.NewActivity[Ref, Proof]("ownership.Prove")
	RunScanner     = temporalx.NewActivity[RunInput, RunResult]("scanner.Run")
	IngestReport   = temporalx.NewActivity[IngestInput, IngestResult]("store.IngestReport")
	Finish         = temporalx.NewActivity[FinishInput, Counts]("store.ScanFinish")
	RecordUsage    = temporalx.NewActivity[Ref, UsageEvent]("store.RecordUsage")
	Reimport       = temporalx.NewActivity[ReimportInput, ReimportResult]("defectdojo.Reimport")
)

// Ref names a scan of a tenant.
type Ref struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ScanID   uuid.UUID `json:"scan_id"`
}

// Authorization is what the scan needs to know about its tenant.
type Authorization struct {
	Tier        string    `json:"tier"`
	Limit       int       `json:"limit"` // concurrent scans the root tenant's tier allows
	RequestedAt time.Time `json:"requested_at"`
	// GateTenantID is the root of the tenant's tree, whose gate every scan
	// of the tree shares. Empty in histories from before: the scan's own
	// tenant then.
	GateTenantID uuid.UUID `json:"gate_tenant_id,omitempty"`
}

// RunInput is one scanner against one target of one scan.
type RunInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ScanID   uuid.UUID `json:"scan_id"`
	Scanner  string    `json:"scanner"`
	Target   string    `json:"target"`
	// Address is the one the ownership proof held for just before the
	// scanners ran (ProveOwnership): the scanner goes there and nowhere
	// else. Empty in histories from before the proof moved into the scan,
	// and for images.
	Address string `json:"address,omitempty"`
}

// Proof is where a target's ownership was proven just before it is scanned.
type Proof struct {
	Address string `json:"address,omitempty"` // empty for images
	Method  string `json:"method,omitempty"`  // dns, http, auto, or none for images
	Pinned  bool   `json:"pinned,omitempty"`  // the address was new and is now covered
}

// RunResult points at the stored report.
type RunResult struct {
	ReportID uuid.UUID `json:"report_id"`
	Scanner  string    `json:"scanner"`
	Address  string    `json:"address"` // empty for image targets
	Bytes    int       `json:"bytes"`
}

// IngestInput points at a stored raw report.
type IngestInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ScanID   uuid.UUID `json:"scan_id"`
	ReportID uuid.UUID `json:"report_id"`
	Scanner  string    `json:"scanner"`
}

// IngestResult counts what one report's ingest did.
type IngestResult struct {
	Staged   int64 `json:"staged"`   // rows copied in
	Upserted int64 `json:"upserted"` // occurrences inserted or changed (0 for an unchanged re-import)
	Linked   int64 `json:"linked"`   // distinct findings the scan now holds for this scanner
}

// FinishInput ends a scan.
type FinishInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ScanID   uuid.UUID `json:"scan_id"`
	Status   string    `json:"status"` // completed, failed, cancelled
	Error    string    `json:"error,omitempty"`
}

// Counts of a scan's findings by severity, and what the scan changed.
type Counts struct {
	Critical int  `json:"critical"`
	High     int  `json:"high"`
	Medium   int  `json:"medium"`
	Low      int  `json:"low"`
	Info     int  `json:"info"`
	Diff     Diff `json:"diff"`
}

// Diff is what a scan changed in the findings store.
type Diff struct {
	New      int `json:"new"`
	Open     int `json:"open"` // seen before and still there
	Fixed    int `json:"fixed"`
	Reopened int `json:"reopened"`
}

// Total of all severities.
func (c Counts) Total() int { return c.Critical + c.High + c.Medium + c.Low + c.Info }

// UsageEvent is one scan's billing record.
type UsageEvent struct {
	ID         uuid.UUID  `json:"id"`
	TenantID   uuid.UUID  `json:"tenant_id"`
	ScanID     uuid.UUID  `json:"scan_id"`
	Source     string     `json:"source"`
	Scanners   []string   `json:"scanners"`
	Target     string     `json:"target"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt time.Time  `json:"finished_at"`
	DurationMS int64      `json:"duration_ms"`
	Status     string     `json:"status"`
	Findings   int        `json:"findings"`
	CreatedAt  time.Time  `json:"created_at"`
}

// ReimportInput names one scanner's report of a finished scan.
type ReimportInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ScanID   uuid.UUID `json:"scan_id"`
	Scanner  string    `json:"scanner"`
}

// ReimportResult says what the DefectDojo re-import did.
type ReimportResult struct {
	TestID  int64  `json:"test_id,omitempty"`
	Skipped string `json:"skipped,omitempty"`
	Already bool   `json:"already,omitempty"`
}
