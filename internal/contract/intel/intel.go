// Package intel is the contract of the threat-intelligence refresh
// (workflows/intelflow): a platform Schedule runs it daily; it refreshes the
// CISA KEV catalogue and FIRST's EPSS scores (internal/threatintel), then
// re-prioritises open findings page by page and alerts each tenant once per
// finding whose CVE newly entered KEV (an email, and a finding.kev webhook
// event delivered by the Notify workflow).
package intel

import (
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name.
const WorkflowName = "IntelRefresh"

// Workflow is the typed reference of the workflow (it takes no input).
var Workflow = temporalx.NewWorkflow0[Summary](WorkflowName)

// ScheduleID is the platform Schedule that runs the refresh.
const ScheduleID = "intel/refresh"

// Interval: KEV changes a few times a week, EPSS daily (around 12:00 UTC).
const Interval = 24 * time.Hour

// Schedule runs a refresh daily on the scans queue (overlap skip, like
// every platform schedule); a new schedule runs once at once, so a fresh
// deployment has KEV data (the embedded catalogue at least) before the
// first day is over.
var Schedule = temporalx.PlatformSchedule{
	ID: ScheduleID, Interval: Interval, Workflow: WorkflowName, TaskQueue: temporalx.QueueScans,
	Note:            "Refreshes the CISA KEV catalogue and FIRST EPSS scores, re-prioritises open findings and alerts tenants of findings newly in KEV.",
	TriggerOnCreate: true,
}

// PageSize is the open findings one re-prioritisation activity takes.
const PageSize = 5000

// Error types. ErrRefused: a downloaded file was malformed, collapsed or
// older than the loaded one; the old data stays and a retry would fetch the
// same file, so it is not retried (tomorrow's run tries again).
const (
	ErrRefused = "IntelFileRefused"
)

// NonRetryable lists the error types the workflow does not retry.
var NonRetryable = []string{ErrRefused}

// Activities of a refresh. The feed and store activities run on the scans
// queue; the KEV emails on the onboarding queue, whose workers hold the
// email provider's credentials.
var (
	RefreshKEV    = temporalx.NewActivity0[SourceResult]("intel.RefreshKEV")
	RefreshEPSS   = temporalx.NewActivity0[SourceResult]("intel.RefreshEPSS")
	Reprioritize  = temporalx.NewActivity[PageInput, Page]("intel.Reprioritize")
	PendingAlerts = temporalx.NewActivity0[[]TenantAlerts]("intel.PendingAlerts")
	KEVEmails     = temporalx.NewActivity[KEVEmailsInput, KEVEmailsResult]("email.KEVAlerts")
)

// SourceResult is what refreshing one source did.
type SourceResult struct {
	Source string `json:"source"`
	// Status: loaded, unchanged (same version), not_modified (HTTP 304),
	// skipped (no URL configured).
	Status       string `json:"status"`
	Version      string `json:"version,omitempty"`
	ModelVersion string `json:"model_version,omitempty"`
	Rows         int    `json:"rows"`
	Previous     int    `json:"previous,omitempty"`
}

// PageInput names one page of open findings: those after After, in id order.
type PageInput struct {
	After uuid.UUID `json:"after"`
	Limit int       `json:"limit"`
	// BatchKey makes a retried page's alert batches (and their event ids)
	// the same: the refresh's workflow id.
	BatchKey string `json:"batch_key"`
}

// Page is what one page did.
type Page struct {
	Seen    int       `json:"seen"`
	Updated int64     `json:"updated"`
	Alerts  int       `json:"alerts"`
	Last    uuid.UUID `json:"last"`
	Done    bool      `json:"done"`
}

// TenantAlerts are a tenant's KEV alerts still to send.
type TenantAlerts struct {
	TenantID    uuid.UUID   `json:"tenant_id"`
	Email       bool        `json:"email"`
	DeliveryIDs []uuid.UUID `json:"delivery_ids,omitempty"`
}

// KEVEmailsInput names the tenant whose unsent KEV alerts are emailed.
type KEVEmailsInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// KEVEmailsResult counts the emails sent (one per batch and recipient).
type KEVEmailsResult struct {
	Emails  int `json:"emails"`
	Batches int `json:"batches"`
}

// Summary is what a refresh did.
type Summary struct {
	KEV        SourceResult `json:"kev"`
	EPSS       SourceResult `json:"epss"`
	Pages      int          `json:"pages"`
	Findings   int          `json:"findings"`
	Updated    int64        `json:"updated"`
	Alerts     int          `json:"alerts"`
	Tenants    int          `json:"tenants_alerted"`
	Deliveries int          `json:"deliveries"`
}

// NotifyChildOptions deliver a tenant's pending finding.kev events through
// the Notify workflow (contract notify, given the delivery ids), named by the
// first of them: a rerun of the same refresh joins the running child rather
// than sending twice.
func NotifyChildOptions(tenantID, firstDelivery uuid.UUID) workflow.ChildWorkflowOptions {
	return workflow.ChildWorkflowOptions{
		WorkflowID:            "notify/kev/" + tenantID.String() + "/" + firstDelivery.String(),
		TaskQueue:             temporalx.QueueScans,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}
}
