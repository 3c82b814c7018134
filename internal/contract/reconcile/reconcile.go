// Package reconcile is the contract of the scan reconciler
// (workflows/reconcileflow): a platform Schedule runs it every few minutes,
// so operators see each pass, its result and its failures in the Web UI like
// any other process.
package reconcile

import (
	"time"

	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name.
const WorkflowName = "ReconcileScans"

// Workflow is the typed reference of the workflow (it takes no input).
var Workflow = temporalx.NewWorkflow0[Summary](WorkflowName)

// ScheduleID is the platform-wide schedule that runs it.
const ScheduleID = "maintenance/reconcile-scans"

// Interval is how often the schedule runs a pass.
const Interval = 5 * time.Minute

// Schedule is the platform Schedule that runs a pass every Interval on the
// scans queue; its workers keep it (temporalx.EnsureSchedule).
var Schedule = temporalx.PlatformSchedule{
	ID: ScheduleID, Interval: Interval, Workflow: WorkflowName, TaskQueue: temporalx.QueueScans,
	Note: "Starts the workflows of scans whose API process died before starting them, fails scans whose workflow ended without finishing them, and withdraws sign-ups whose onboarding never began.",
}

// Summary is what one pass did.
type Summary struct {
	Scans Result `json:"scans"`
	// SignupsWithdrawn counts sign-ups freed for a new attempt.
	SignupsWithdrawn int `json:"signups_withdrawn"`
}

// Result counts what one pass over the scans did.
type Result struct {
	Checked int `json:"checked"`
	// Started: scans whose workflow never began, started now.
	Started int `json:"started"`
	// Failed: scans whose workflow ended without finishing them.
	Failed int `json:"failed"`
}

// Activities of a pass; neither takes an input. Signups returns how many
// sign-ups it withdrew.
var (
	Scans   = temporalx.NewActivity0[Result]("reconcile.Scans")
	Signups = temporalx.NewActivity0[int]("reconcile.Signups")
)
