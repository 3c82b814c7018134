// Package reportflow is a report's workflow report/<report-id> (contract:
// internal/contract/report): gather the numbers by SQL, ask the writer for
// prose only, render and store Markdown, HTML and PDF, then email a link.
// Every step is idempotent per report id: a retried or reset run stores
// nothing twice (the first rendering stays) and emails no one twice.
package reportflow

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/contract/report"
	"github.com/secureops/secureops/internal/temporalx"
)

// Register registers the workflow under its stable name.
func Register(reg temporalx.WorkflowRegistry) { report.Workflow.Register(reg, Workflow) }

func storeOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 10,
			NonRetryableErrorTypes: []string{"ReportGone", "ReportRender"},
		},
	}
}

// A model may be slow; the activity itself falls back to rules prose when
// it fails, so few attempts are needed.
func writeOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: 3 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
	}
}

func emailOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueOnboarding,
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute,
			MaximumAttempts: 10, NonRetryableErrorTypes: []string{notify.ErrEmailRejected},
		},
	}
}

// Workflow builds one report.
func Workflow(ctx workflow.Context, in report.Input) (report.Result, error) {
	res := report.Result{Status: "failed"}
	sctx := workflow.WithActivityOptions(ctx, storeOptions())
	facts, err := report.Gather.Run(sctx, in)
	if err != nil {
		return res, fail(ctx, in, "gathering the numbers failed", err)
	}
	prose, err := report.Write.Run(workflow.WithActivityOptions(ctx, writeOptions()), report.WriteInput{Kind: facts.Kind, Facts: facts})
	if err != nil {
		return res, fail(ctx, in, "writing the prose failed", err)
	}
	r, err := report.Render.Run(sctx, report.RenderInput{TenantID: in.TenantID, ReportID: in.ReportID, Facts: facts, Prose: prose})
	if err != nil {
		return res, fail(ctx, in, "rendering the report failed", err)
	}
	res = report.Result{Status: "ready", ProseSource: prose.Source, PDFBytes: r.PDF}
	// The report is ready whether or not the email goes out.
	e, err := report.Email.Run(workflow.WithActivityOptions(ctx, emailOptions()), in)
	if err != nil {
		workflow.GetLogger(ctx).Error("report ready, its email failed", "error", err)
		return res, nil
	}
	res.Emails = e.Emails
	return res, nil
}

// fail records the failure on the report's row, then fails the run.
func fail(ctx workflow.Context, in report.Input, what string, cause error) error {
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	if err := report.MarkFailed.Run(workflow.WithActivityOptions(dctx, storeOptions()),
		report.FailedInput{TenantID: in.TenantID, ReportID: in.ReportID, Error: what}); err != nil {
		workflow.GetLogger(ctx).Error("marking the report failed failed", "error", err)
	}
	return cause
}
