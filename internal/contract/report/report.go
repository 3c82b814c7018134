// Package report is the contract of a report (workflows/reportflow): the API
// creates the report's row and starts report/<report-id>; the workflow
// gathers the numbers by SQL, asks a writer for prose only (a model when one
// is configured, else rules), renders and stores Markdown, HTML and PDF
// (internal/reporting) and emails a link, once per report.
package report

import (
	"errors"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name.
const WorkflowName = "Report"

// Kind is the Kind search attribute of reports.
const Kind = "report"

// Kinds of report.
const (
	KindExecutive = "executive"
	KindTechnical = "technical"
)

// Workflow is the typed reference of the workflow.
var Workflow = temporalx.NewWorkflow[Input, Result](WorkflowName)

// WorkflowID names a report's workflow.
func WorkflowID(reportID uuid.UUID) string { return "report/" + reportID.String() }

// StartOptions start a report's workflow: a second start of the same report
// joins the first, a finished one is never run again under its id.
func StartOptions(tenantID, reportID uuid.UUID) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       WorkflowID(reportID),
		TaskQueue:                temporalx.QueueScans,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowExecutionTimeout: 24 * time.Hour,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(tenantID.String()),
			temporalx.SAKind.ValueSet(Kind),
		),
	}
}

// Input names the report; its row holds the rest (kind, scope, requester).
type Input struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ReportID uuid.UUID `json:"report_id"`
}

// Result is what the run did.
type Result struct {
	Status      string `json:"status"`
	ProseSource string `json:"prose_source"`
	PDFBytes    int    `json:"pdf_bytes"`
	Emails      int    `json:"emails"`
}

// Activities. Gather, Write and Render run on the scans queue; the email on
// the onboarding queue, whose workers hold the email provider's credentials.
var (
	Gather     = temporalx.NewActivity[Input, Facts]("report.Gather")
	Write      = temporalx.NewActivity[WriteInput, Prose]("report.Write")
	Render     = temporalx.NewActivity[RenderInput, Rendered]("report.Render")
	MarkFailed = temporalx.NewAction[FailedInput]("report.MarkFailed")
	Email      = temporalx.NewActivity[Input, EmailResult]("email.ReportReady")
)

// WriteInput is what the prose writer sees: the kind and the numbers.
type WriteInput struct {
	Kind  string `json:"kind"`
	Facts Facts  `json:"facts"`
}

// Prose is the writer's text (Markdown) and who wrote it: "rules", or
// "model:<name>".
type Prose struct {
	Text   string `json:"text"`
	Source string `json:"source"`
}

// RenderInput renders and stores a report.
type RenderInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ReportID uuid.UUID `json:"report_id"`
	Facts    Facts     `json:"facts"`
	Prose    Prose     `json:"prose"`
}

// Rendered sizes the stored renderings; Stored is false when a previous
// attempt had stored them already.
type Rendered struct {
	Markdown int  `json:"markdown"`
	HTML     int  `json:"html"`
	PDF      int  `json:"pdf"`
	Stored   bool `json:"stored"`
}

// FailedInput records why a report failed.
type FailedInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ReportID uuid.UUID `json:"report_id"`
	Error    string    `json:"error"`
}

// EmailResult counts the emails sent (one per recipient, keyed by report).
type EmailResult struct {
	Emails int `json:"emails"`
}

// Severities in report order.
var Severities = []string{"critical", "high", "medium", "low", "info"}

// Statuses of a finding in report order.
var Statuses = []string{"new", "open", "reopened", "fixed", "false_positive", "accepted_risk"}

// Facts are a report's numbers, all from SQL; prose never changes them.
type Facts struct {
	ReportID uuid.UUID `json:"report_id"`
	TenantID uuid.UUID `json:"tenant_id"`
	Tenant   string    `json:"tenant"`
	Kind     string    `json:"kind"`
	// Scope: a scan (ScanID, Target) or a period; From/To is the window
	// either way (a scan's: from its creation to its end).
	ScanID      *uuid.UUID `json:"scan_id,omitempty"`
	Target      string     `json:"target,omitempty"`
	From        time.Time  `json:"from"`
	To          time.Time  `json:"to"`
	GeneratedAt time.Time  `json:"generated_at"`

	// Findings in scope by severity, and by status; Total is their sum.
	BySeverity map[string]int `json:"by_severity"`
	ByStatus   map[string]int `json:"by_status"`
	// OpenBySeverity counts the open ones (new, open, reopened).
	OpenBySeverity map[string]int `json:"open_by_severity"`
	Total          int            `json:"total"`
	Open           int            `json:"open"`
	KEVOpen        int            `json:"kev_open"`
	New            int            `json:"new"`
	Fixed          int            `json:"fixed"`
	SLAOverdue     int            `json:"sla_overdue"`
	ScansRun       int            `json:"scans_run"`
	ScansFailed    int            `json:"scans_failed"`
	Top            []TopFinding   `json:"top"`
}

// ErrDeclined is what a prose writer answers when it deliberately writes
// nothing for this report (a model the tenant did not opt in to): the rules'
// prose is used, and nothing failed.
var ErrDeclined = errors.New("the prose writer declines this report")

// TopFinding is one of the open findings with the highest priority.
type TopFinding struct {
	ID             uuid.UUID  `json:"id"`
	Title          string     `json:"title"`
	Severity       string     `json:"severity"`
	Status         string     `json:"status"`
	Priority       int        `json:"priority"`
	KEV            bool       `json:"kev"`
	EPSS           *float64   `json:"epss,omitempty"`
	EPSSPercentile *float64   `json:"epss_percentile,omitempty"`
	CVEs           []string   `json:"cves,omitempty"`
	Where          string     `json:"where,omitempty"`
	Component      string     `json:"component,omitempty"`
	SLADueAt       *time.Time `json:"sla_due_at,omitempty"`
	Scanner        string     `json:"scanner,omitempty"`
	RuleID         string     `json:"rule_id,omitempty"`
}
