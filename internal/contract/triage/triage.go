// Package triage is the contract of the Triage workflow (workflows/triageflow):
// a child of every completed scan and import, keyed by the scan. It records
// the rules' decision (internal/triagerules) — and a model's, when one is
// plugged in — for each open finding the scan saw, then waits up to 14 days
// for analysts to approve or reject each decision that would close a finding
// (the updates UpdateApprove and UpdateReject). Activities: activities/triaging.
package triage

import (
	"slices"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name.
const WorkflowName = "Triage"

// Workflow is the typed reference of the workflow.
var Workflow = temporalx.NewWorkflow[Input, Result](WorkflowName)

// WorkflowID is the workflow of a scan's triage: triage/<scan-id>.
func WorkflowID(scanID uuid.UUID) string { return "triage/" + scanID.String() }

// ChildOptions run a scan's triage as a child that outlives the scan (the
// scan finishes at once); a reset scan's run may start it again, and a
// second run finds the first one's rows (one row per finding and source).
// Operators find a tenant's waiting triages by TenantId and Kind = 'triage'.
func ChildOptions(tenantID, scanID uuid.UUID) workflow.ChildWorkflowOptions {
	return workflow.ChildWorkflowOptions{
		WorkflowID:            WorkflowID(scanID),
		TaskQueue:             temporalx.QueueScans,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(tenantID.String()),
			temporalx.SAKind.ValueSet(Kind),
		),
	}
}

// Kind is the Kind search attribute of triages.
const Kind = "triage"

// ApprovalWindow is how long decisions wait for an analyst; afterwards the
// workflow ends and they stay proposed (the finding keeps its status).
const ApprovalWindow = 14 * 24 * time.Hour

// Updates: an analyst approves or rejects the proposed decision on one
// finding. The validator refuses a caller whose role may not triage and a
// finding that does not wait (unknown, already decided, being decided).
const (
	UpdateApprove = "approve"
	UpdateReject  = "reject"
)

// ApproverRoles may approve or reject (the API checked findings:triage; an
// API key's role is client_api and its scope was checked there).
var ApproverRoles = []string{"platform_admin", "client_owner", "client_admin", "client_analyst", "client_api"}

// CanApprove reports whether role may approve or reject.
func CanApprove(role string) bool { return slices.Contains(ApproverRoles, role) }

// Input names the scan whose findings are triaged.
type Input struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ScanID   uuid.UUID `json:"scan_id"`
}

// Result is what a triage did.
type Result struct {
	Findings int `json:"findings"` // open findings decided
	Proposed int `json:"proposed"` // waited for an analyst
	Approved int `json:"approved"`
	Rejected int `json:"rejected"`
	Expired  int `json:"expired"` // still proposed after ApprovalWindow
}

// Verdict is an analyst's answer (the update's argument).
type Verdict struct {
	FindingID uuid.UUID `json:"finding_id"`
	// Actor is who decided ("user:<id>", "apikey:<id>"); Role the role they
	// hold at the finding's tenant.
	Actor   string `json:"actor"`
	Role    string `json:"role"`
	Comment string `json:"comment,omitempty"`
}

// ErrNotPending: the finding's decision does not wait for an analyst (not
// retried).
const ErrNotPending = "TriageNotPending"

// Its activities heartbeat every HeartbeatEvery while they run; a worker
// silent for HeartbeatTimeout is dead and another takes the activity.
const (
	HeartbeatEvery   = 15 * time.Second
	HeartbeatTimeout = time.Minute
)

// Activities of a triage (scans queue).
var (
	Evaluate = temporalx.NewActivity[Input, Evaluated]("triage.Evaluate")
	Resolve  = temporalx.NewActivity[ResolveInput, Resolved]("triage.Resolve")
)

// Evaluated is what the rules (and a model) decided for a scan.
type Evaluated struct {
	Findings int `json:"findings"`
	// Pending are the findings whose decision waits for an analyst (read
	// from the rows, so a reset or re-run finds the same).
	Pending []uuid.UUID `json:"pending"`
	// Model: answers a model gave (0 without one).
	Model int `json:"model,omitempty"`
}

// ResolveInput records an analyst's verdict on a pending decision.
type ResolveInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ScanID   uuid.UUID `json:"scan_id"`
	Verdict  Verdict   `json:"verdict"`
	Approve  bool      `json:"approve"`
}

// Resolved is the verdict's outcome (the update's result).
type Resolved struct {
	FindingID uuid.UUID `json:"finding_id"`
	Decision  string    `json:"decision"`
	Status    string    `json:"status"`         // approved or rejected
	Finding   string    `json:"finding_status"` // the finding's status afterwards
}
