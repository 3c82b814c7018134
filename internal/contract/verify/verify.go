// Package verify is the contract of the ownership verification workflow
// (workflows/verifyflow): it looks for the target's proof now and again on a
// durable timer, backing off, for up to 72 hours, and leaves the outcome on
// the target. The proof's format (DNS TXT record or well-known file) is a
// rule of the target domain (internal/targets, proof.go): the API shows it to
// the tenant, the activity looks for it.
package verify

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name.
const WorkflowName = "VerifyTarget"

// Workflow is the typed reference of the workflow.
var Workflow = temporalx.NewWorkflow[Input, CheckResult](WorkflowName)

// SignalRecheck asks a waiting verification to look again now (the user
// just published the record and pressed "verify" again).
const SignalRecheck = "recheck"

// QueryStatus returns the Status.
const QueryStatus = "status"

// WorkflowID is one verification per target at a time.
func WorkflowID(targetID uuid.UUID) string { return "verify/" + targetID.String() }

// Kind is the Kind search attribute of verifications.
const Kind = "verify"

// StartOptions start (or, with signal-with-start, nudge) a target's
// verification: one at a time per target, a new one after the last ended.
func StartOptions(tenantID, targetID uuid.UUID, target string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    WorkflowID(targetID),
		TaskQueue:             temporalx.QueueScans,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(tenantID.String()),
			temporalx.SAKind.ValueSet(Kind),
			temporalx.ScanTargetValue(target),
		),
	}
}

// Input starts a verification.
type Input struct {
	TenantID uuid.UUID `json:"tenant_id"`
	TargetID uuid.UUID `json:"target_id"`
	// Window is how long to keep looking (default 72 h); FirstInterval the
	// first wait between checks (default 1 min), doubling up to an hour.
	Window        time.Duration `json:"window,omitempty"`
	FirstInterval time.Duration `json:"first_interval,omitempty"`
}

// Status is the live state of the verification.
type Status struct {
	State     string    `json:"state"` // checking, waiting, verified, failed, gone
	Checks    int       `json:"checks"`
	Detail    string    `json:"detail,omitempty"`
	NextCheck time.Time `json:"next_check,omitempty"`
	Deadline  time.Time `json:"deadline"`
}

// Check looks for the proof once and records the outcome on the target.
var Check = temporalx.NewActivity[CheckInput, CheckResult]("verify.Check")

// CheckInput is one check of one target.
type CheckInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	TargetID uuid.UUID `json:"target_id"`
	// Final turns a failed check into the target's final "failed" state.
	Final bool `json:"final"`
}

// CheckResult is the target's verification state after the check.
type CheckResult struct {
	Status string `json:"status"` // verified, pending, failed, or gone (deleted / no longer pending)
	Method string `json:"method,omitempty"`
	Detail string `json:"detail,omitempty"`
}
