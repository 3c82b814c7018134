// Package scanflow is the Scan workflow: one scan of one target by one or
// more scanners, from policy check to stored, de-duplicated findings. Its
// callers and its activities know it by its contract, internal/contract/scan.
package scanflow

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/google/uuid"
	"github.com/secureops/secureops/internal/contract/gate"
	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/contract/triage"
	"github.com/secureops/secureops/internal/temporalx"
)

// Register registers the workflow under its stable name.
func Register(reg temporalx.WorkflowRegistry) { scan.Workflow.Register(reg, ScanWorkflow) }

// ScanWorkflow runs the scan described by in.
func ScanWorkflow(ctx workflow.Context, in scan.Input) (scan.Result, error) {
	w := &scanWorkflow{in: in}
	if err := w.setup(ctx); err != nil {
		return scan.Result{}, err
	}
	return w.run(ctx)
}

type scanWorkflow struct {
	in       scan.Input
	progress scan.Progress
	queued   bool // joined the tenant's gate: must release
	// gate is the tenant whose gate the scan queues at: its tree's root
	// (scan.Authorization), the scan's own tenant in older histories.
	gate uuid.UUID
}

func (w *scanWorkflow) setup(ctx workflow.Context) error {
	w.progress = scan.Progress{Status: "queued", Step: "queued", UpdatedAt: workflow.Now(ctx)}
	for _, s := range w.in.Scanners {
		w.progress.Scanners = append(w.progress.Scanners, scan.ScannerStep{Scanner: s, State: "pending"})
	}
	return workflow.SetQueryHandler(ctx, scan.QueryProgress, func() (scan.Progress, error) { return w.progress, nil })
}

// Database writes are short and must survive a Postgres restart: retry them
// for a while with backoff.
func storeOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			MaximumAttempts:        20,
			NonRetryableErrorTypes: []string{scan.ErrReportMalformed, scan.ErrTargetNotVerified, scan.ErrInvalidArgument},
		},
	}
}

// The proof fetches the verification file over the network (40 s at most
// for all ports) after a DNS lookup; the activity turns a failing proof
// non-retryable on its last attempt, so the tenant reads why.
func proveOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScans,
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    5 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    3,
			NonRetryableErrorTypes: []string{
				scan.ErrTargetNotVerified, scan.ErrTargetNotAllowed, scan.ErrInvalidTarget, scan.ErrScanGone,
			},
		},
	}
}

// Scanners run for long, heartbeat often, and stop being retried as soon as
// the target is refused.
func scannerOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           temporalx.QueueScanners,
		StartToCloseTimeout: 4 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    10 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Minute,
			MaximumAttempts:    3,
			NonRetryableErrorTypes: []string{
				scan.ErrInvalidTarget, scan.ErrTargetNotAllowed,
				scan.ErrUnknownScanner, scan.ErrScannerNotPresent, scan.ErrReportTooLarge,
			},
		},
	}
}

func (w *scanWorkflow) run(ctx workflow.Context) (res scan.Result, err error) {
	log := workflow.GetLogger(ctx)
	ref := scan.Ref{TenantID: w.in.TenantID, ScanID: w.in.ScanID}
	storeCtx := workflow.WithActivityOptions(ctx, storeOptions())

	// Whatever ends the scan, its slot goes back to the tenant's gate; and
	// whatever ends it early, the row must say so. After a cancel the
	// workflow context is done, so these last steps use a disconnected one.
	defer w.releaseSlot(ctx)
	defer func() {
		if err == nil {
			return
		}
		status, msg := "failed", errorMessage(ctx, err)
		if temporal.IsCanceledError(err) || errors.Is(ctx.Err(), workflow.ErrCanceled) {
			status, msg = "cancelled", "cancelled by request"
		}
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		// The last word on the scan must outlast a long database outage.
		final := storeOptions()
		final.ScheduleToCloseTimeout = 24 * time.Hour
		final.RetryPolicy.MaximumAttempts = 0
		dctx = workflow.WithActivityOptions(dctx, final)
		if _, ferr := scan.Finish.Run(dctx,
			scan.FinishInput{TenantID: w.in.TenantID, ScanID: w.in.ScanID, Status: status, Error: msg}); ferr != nil {
			log.Error("recording scan end failed", "error", ferr)
		}
		w.finish(ctx, status, msg)
		// The slot goes back before the slow after-work (DefectDojo, mail).
		w.releaseSlot(ctx)
		w.afterFinish(dctx, status)
	}()

	imported := w.in.ReportID != nil
	// Scans started before the per-tenant gate existed replay the old order.
	gated := !imported && workflow.GetVersion(ctx, "concurrency-gate", workflow.DefaultVersion, 1) == 1
	if gated {
		if err = w.waitForSlot(ctx, storeCtx, ref); err != nil {
			return scan.Result{}, err
		}
		if err = scan.MarkRunning.Run(storeCtx, ref); err != nil {
			return scan.Result{}, err
		}
	} else {
		if err = scan.MarkRunning.Run(storeCtx, ref); err != nil {
			return scan.Result{}, err
		}
		// Histories recorded before ownership checks moved into the workflow
		// replay without the step.
		if !imported && workflow.GetVersion(ctx, "authorize-target", workflow.DefaultVersion, 1) == 1 {
			w.set(ctx, "running", "authorizing", 0)
			if _, err = scan.Authorize.Run(storeCtx, ref); err != nil {
				return scan.Result{}, err
			}
		}
	}
	// The ownership proof must hold for the address about to be scanned, now,
	// not only when the target was verified. Histories from before replay
	// without the step (their scanners resolved the name themselves).
	var proof scan.Proof
	if !imported && workflow.GetVersion(ctx, "prove-ownership", workflow.DefaultVersion, 1) == 1 {
		w.set(ctx, "running", "proving ownership", 0)
		if proof, err = scan.ProveOwnership.Run(workflow.WithActivityOptions(ctx, proveOptions()), ref); err != nil {
			return scan.Result{}, err
		}
	}
	w.set(ctx, "running", "scanning", 0)

	scanCtx := workflow.WithActivityOptions(ctx, scannerOptions())
	for i, name := range w.in.Scanners {
		w.progress.Scanners[i].State = "running"
		w.set(ctx, "running", name, i*100/len(w.in.Scanners))
		var run scan.RunResult
		if imported {
			run = scan.RunResult{ReportID: *w.in.ReportID, Scanner: name}
		} else {
			run, err = scan.RunScanner.Run(scanCtx, scan.RunInput{
				TenantID: w.in.TenantID, ScanID: w.in.ScanID, Scanner: name, Target: w.in.Target, Address: proof.Address,
			})
		}
		if err != nil {
			w.progress.Scanners[i].State = "failed"
			return scan.Result{}, err
		}
		ing, err := scan.IngestReport.Run(workflow.WithStartToCloseTimeout(storeCtx, 15*time.Minute), scan.IngestInput{
			TenantID: w.in.TenantID, ScanID: w.in.ScanID, ReportID: run.ReportID, Scanner: name,
		})
		if err != nil {
			w.progress.Scanners[i].State = "failed"
			return scan.Result{}, err
		}
		w.progress.Scanners[i].State = "done"
		w.progress.Scanners[i].Findings = int(ing.Linked)
	}

	counts, err := scan.Finish.Run(storeCtx,
		scan.FinishInput{TenantID: w.in.TenantID, ScanID: w.in.ScanID, Status: "completed"})
	if err != nil {
		return scan.Result{}, err
	}
	w.finish(ctx, "completed", "")
	// The slot goes back before the slow after-work, which a late cancel
	// must not cut short: the scan is complete, its report and mail still go.
	w.releaseSlot(ctx)
	actx, _ := workflow.NewDisconnectedContext(ctx)
	w.afterFinish(actx, "completed")
	w.progress.Percent = 100
	return scan.Result{
		Status:   "completed",
		Findings: counts.Total(),
		Counts: map[string]int{
			"critical": counts.Critical, "high": counts.High, "medium": counts.Medium,
			"low": counts.Low, "info": counts.Info,
		},
		Diff: &counts.Diff,
	}, nil
}

// waitForSlot claims the scan for this run, checks the target may be
// scanned, and waits — visibly queued — until the tenant's gate grants one of
// the tier's concurrent-scan slots. A cancel while waiting leaves the queue.
func (w *scanWorkflow) waitForSlot(ctx, storeCtx workflow.Context, ref scan.Ref) error {
	// The API may have queued the scan already: whatever happens from here,
	// the gate must hear that the scan ended.
	w.queued = true
	if err := scan.Claim.Run(storeCtx, ref); err != nil {
		return err
	}
	w.set(ctx, "queued", "authorizing", 0)
	auth, err := scan.Authorize.Run(storeCtx, ref)
	if err != nil {
		return err
	}
	if auth.GateTenantID != uuid.Nil {
		w.gate = auth.GateTenantID
	}
	w.set(ctx, "queued", "waiting for a scan slot", 0)
	granted := workflow.GetSignalChannel(ctx, gate.SignalGranted)
	if err := gate.Acquire.Run(storeCtx, gate.AcquireInput{
		TenantID: w.gateTenant(), ScanWorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID, Limit: auth.Limit,
		RequestedAt: auth.RequestedAt,
	}); err != nil {
		return err
	}
	var cancelled bool
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(granted, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) { cancelled = true })
	sel.Select(ctx)
	if cancelled {
		return ctx.Err()
	}
	return nil
}

// afterFinish records the scan's usage and starts its notifications (email,
// webhooks) as a child that outlives the scan: a slow or dead receiver is
// retried for a long time and must not keep the scan open. Both are keyed by
// the scan, so a retried or reset scan neither bills nor notifies twice.
func (w *scanWorkflow) afterFinish(ctx workflow.Context, status string) {
	if workflow.GetVersion(ctx, "post-scan", workflow.DefaultVersion, 1) != 1 {
		return
	}
	log := workflow.GetLogger(ctx)
	ref := scan.Ref{TenantID: w.in.TenantID, ScanID: w.in.ScanID}
	sctx := workflow.WithActivityOptions(ctx, storeOptions())
	if _, err := scan.RecordUsage.Run(sctx, ref); err != nil {
		log.Error("recording the scan's usage failed", "error", err)
	}
	if status == "completed" && workflow.GetVersion(ctx, "defectdojo-reimport", workflow.DefaultVersion, 1) == 1 {
		// Exactly once per scan and scanner: the activity checks our record
		// and DefectDojo's import history before it sends anything.
		dctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue: temporalx.QueueScans,
			// A retry may wait minutes for an earlier attempt's import to show.
			StartToCloseTimeout: 15 * time.Minute,
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute,
				MaximumAttempts: 10, NonRetryableErrorTypes: []string{scan.ErrDefectDojoRejected},
			},
		})
		for _, name := range w.in.Scanners {
			if _, err := scan.Reimport.Run(dctx, scan.ReimportInput{
				TenantID: w.in.TenantID, ScanID: w.in.ScanID, Scanner: name,
			}); err != nil {
				log.Error("DefectDojo re-import failed", "scanner", name, "error", err)
			}
		}
	}
	if status == "cancelled" {
		return // the user stopped it; nothing to tell them
	}
	cctx := workflow.WithChildOptions(ctx, notify.ChildOptions(w.in.ScanID))
	child := notify.Workflow.ExecuteChild(cctx, notify.Input{TenantID: w.in.TenantID, ScanID: w.in.ScanID})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		// After a reset the previous run's notifications may still be
		// running; they cover this scan.
		log.Warn("starting the scan's notifications failed", "error", err)
	}
	// A completed scan or import is triaged by a child that outlives it (it
	// may wait 14 days for analysts). Histories from before replay without.
	if status == "completed" && workflow.GetVersion(ctx, "triage", workflow.DefaultVersion, 1) == 1 {
		tctx := workflow.WithChildOptions(ctx, triage.ChildOptions(w.in.TenantID, w.in.ScanID))
		tc := triage.Workflow.ExecuteChild(tctx, triage.Input{TenantID: w.in.TenantID, ScanID: w.in.ScanID})
		if err := tc.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			// After a reset the previous run's triage may still wait; it
			// covers this scan.
			log.Warn("starting the scan's triage failed", "error", err)
		}
	}
}

// releaseSlot tells the gate the scan is done with its slot (or its place
// in the queue). A gate that already ended has nothing to release.
func (w *scanWorkflow) releaseSlot(ctx workflow.Context) {
	if !w.queued {
		return
	}
	w.queued = false // once: the deferred call after an early release is a no-op
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	err := workflow.SignalExternalWorkflow(dctx, gate.WorkflowID(w.gateTenant()), "", gate.SignalRelease,
		gate.ReleaseRequest{ScanWorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID}).Get(dctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("releasing the scan slot failed; the gate reclaims it when it checks", "error", err)
	}
}

func (w *scanWorkflow) set(ctx workflow.Context, status, step string, pct int) {
	w.progress.Status, w.progress.Step, w.progress.Percent = status, step, pct
	w.progress.UpdatedAt = workflow.Now(ctx)
}

func (w *scanWorkflow) finish(ctx workflow.Context, status, msg string) {
	now := workflow.Now(ctx)
	w.progress.Status, w.progress.Step, w.progress.Error = status, status, msg
	w.progress.UpdatedAt, w.progress.FinishedAt = now, &now
}

func errorMessage(ctx workflow.Context, err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && scan.UserFacing[app.Type()] {
		return app.Message()
	}
	return fmt.Sprintf("the scan failed; operators can inspect workflow %s", workflow.GetInfo(ctx).WorkflowExecution.ID)
}

// gateTenant is the tenant whose gate holds the scan's slot.
func (w *scanWorkflow) gateTenant() uuid.UUID {
	if w.gate != uuid.Nil {
		return w.gate
	}
	return w.in.TenantID
}
