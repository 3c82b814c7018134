// Package maintenance is the contract of the platform's housekeeping
// (workflows/maintenanceflow): background jobs that used to run as hidden
// goroutines inside the workers run instead as activities of a workflow a
// platform Schedule starts, so operators see every pass, its failures and
// its retries in the Web UI, and can trigger one by hand.
package maintenance

import (
	"time"

	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name.
const WorkflowName = "Maintenance"

// Workflow is the typed reference of the workflow (it takes no input).
var Workflow = temporalx.NewWorkflow0[Summary](WorkflowName)

// ScheduleID is the platform-wide schedule that runs it; the reconciler's
// schedule (contract/reconcile) sits beside it under the same prefix.
const ScheduleID = "maintenance/housekeeping"

// Interval is how often the schedule runs a pass.
const Interval = time.Hour

// Schedule is the platform Schedule that runs a pass every Interval on the
// onboarding queue; its workers keep it (temporalx.EnsureSchedule). A new
// schedule runs its first pass at once, so a fresh deployment's catalogue is
// warm before the first sign-up.
var Schedule = temporalx.PlatformSchedule{
	ID: ScheduleID, Interval: Interval, Workflow: WorkflowName, TaskQueue: temporalx.QueueOnboarding,
	Note:            "Erases first API keys nobody revealed within their week, and bootstraps the Stripe catalogue (products and prices) ahead of the next sign-up.",
	TriggerOnCreate: true,
}

// Summary is what one pass did.
type Summary struct {
	// InitialKeysPurged counts unrevealed first-key secrets erased.
	InitialKeysPurged int           `json:"initial_keys_purged"`
	Catalog           CatalogResult `json:"catalog"`
	// SLATimers counts the active tenants whose SLA workflow was ensured.
	SLATimers int `json:"sla_timers"`
}

// CatalogResult is the Stripe catalogue's state after the warm-up.
type CatalogResult struct {
	Prices int `json:"prices"`
	// Skipped: Stripe is not configured on this deployment.
	Skipped bool `json:"skipped,omitempty"`
}

// Activities of a pass; they run on the onboarding queue, whose workers hold
// the database seal key's table and the Stripe credentials.
var (
	PurgeInitialKeys = temporalx.NewActivity0[int]("store.PurgeExpiredInitialKeys")
	WarmCatalog      = temporalx.NewActivity0[CatalogResult]("stripe.WarmCatalog")
)
