// Package onboardingflow is the Onboarding workflow (contract:
// internal/contract/onboarding): a company's sign-up taken to an active
// tenant with a subscription, an owner, an API key, a scan policy and a
// welcome email, or, when a step fails for good, undone step by step and left
// failed with the reason.
package onboardingflow

import (
	"errors"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/contract/schedule"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/tiers"
)

// Register registers the workflow under its stable name.
func Register(reg temporalx.WorkflowRegistry) { onboarding.Workflow.Register(reg, OnboardingWorkflow) }

// OnboardingWorkflow takes a sign-up to an active tenant.
func OnboardingWorkflow(ctx workflow.Context, in onboarding.Input) (onboarding.Result, error) {
	w := &onboardingWorkflow{in: in}
	if err := w.setup(ctx); err != nil {
		return onboarding.Result{}, err
	}
	return w.run(ctx)
}

type onboardingWorkflow struct {
	in       onboarding.Input
	progress onboarding.Progress
	attempt  int
}

// compensation undoes one step; they run in reverse order.
type compensation struct {
	step string
	undo func(ctx workflow.Context) error
}

func (w *onboardingWorkflow) setup(ctx workflow.Context) error {
	w.progress = onboarding.Progress{Status: onboarding.StatusRunning, TenantID: w.in.TenantID, StartedAt: workflow.Now(ctx)}
	for _, s := range onboarding.Steps {
		w.progress.Steps = append(w.progress.Steps, onboarding.Step{Name: s, State: onboarding.StatePending})
	}
	return workflow.SetQueryHandler(ctx, onboarding.QueryProgress, func() (onboarding.Progress, error) { return w.progress, nil })
}

// Postgres writes: short, retried through a database restart, given up
// after ten minutes so a sign-up never hangs without an answer.
func storeOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:              temporalx.QueueOnboarding,
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			NonRetryableErrorTypes: []string{onboarding.ErrSlugTaken, onboarding.ErrNotConfigured, onboarding.ErrInvalidArgument},
		},
	}
}

// Third parties (Stripe, Kratos, DefectDojo, Resend): a slow call is cut at
// a minute and retried with the same idempotency key; an outage longer than
// a quarter of an hour fails the onboarding, which operators can reset. A
// refusal (card declined, address rejected) fails at once.
func externalOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:              temporalx.QueueOnboarding,
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 15 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			NonRetryableErrorTypes: []string{
				onboarding.ErrCardDeclined, onboarding.ErrInvalidRequest, onboarding.ErrAuthentication,
				onboarding.ErrIdentityRejected, onboarding.ErrDefectDojoRejected, onboarding.ErrEmailRejected, onboarding.ErrNotConfigured,
			},
		},
	}
}

// Compensations must finish whatever it takes: a customer left subscribed
// or an identity left behind is worse than a late cleanup.
func compensationOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:              temporalx.QueueOnboarding,
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Minute,
		},
	}
}

func (w *onboardingWorkflow) run(ctx workflow.Context) (res onboarding.Result, err error) {
	in := w.in
	storeCtx := workflow.WithActivityOptions(ctx, storeOptions())
	extCtx := workflow.WithActivityOptions(ctx, externalOptions())
	var comps []compensation
	failedStep := ""

	defer func() {
		if err == nil {
			return
		}
		reason := failureReason(failedStep, err)
		w.compensate(ctx, comps, reason)
		err = temporal.NewNonRetryableApplicationError(reason, onboarding.ErrOnboardingFailed, err)
	}()
	step := func(name string, fn func() error) error {
		w.set(ctx, name, onboarding.StateRunning, "")
		if err := fn(); err != nil {
			failedStep = name
			w.set(ctx, name, onboarding.StateFailed, failureReason(name, err))
			return err
		}
		w.set(ctx, name, onboarding.StateDone, "")
		return nil
	}

	// 1. The tenant row, status onboarding.
	var reserved onboarding.ReserveResult
	if err = step(onboarding.StepTenant, func() (err error) {
		reserved, err = onboarding.ReserveTenant.Run(storeCtx, onboarding.ReserveInput{
			TenantID: in.TenantID, Slug: in.Slug, CompanyName: in.CompanyName, Tier: in.Tier,
			ContactName: in.ContactName, Phone: in.Phone, Industry: in.Industry,
		})
		return err
	}); err != nil {
		return onboarding.Result{}, err
	}
	w.attempt = reserved.Attempt

	// 2. Stripe: the customer, then the trial subscription.
	var cust onboarding.CustomerResult
	if err = step(onboarding.StepStripeCustomer, func() (err error) {
		cust, err = onboarding.CreateCustomer.Run(extCtx, onboarding.CustomerInput{
			TenantID: in.TenantID, Attempt: w.attempt, CompanyName: in.CompanyName, ContactName: in.ContactName,
			Email: in.Email, Phone: in.Phone,
		})
		return err
	}); err != nil {
		return onboarding.Result{}, err
	}
	if cust.Skipped {
		w.set(ctx, onboarding.StepStripeCustomer, onboarding.StateSkipped, "")
	} else {
		comps = append(comps, compensation{onboarding.StepStripeCustomer, func(c workflow.Context) error {
			return onboarding.DeleteCustomer.Run(c, onboarding.CancelInput{TenantID: in.TenantID, ID: cust.CustomerID})
		}})
	}
	var sub onboarding.SubscriptionResult
	if cust.Skipped {
		w.set(ctx, onboarding.StepStripeSubscription, onboarding.StateSkipped, "")
	} else {
		if err = step(onboarding.StepStripeSubscription, func() (err error) {
			sub, err = onboarding.CreateSubscription.Run(extCtx, onboarding.SubscriptionInput{
				TenantID: in.TenantID, Attempt: w.attempt, CustomerID: cust.CustomerID, Tier: in.Tier,
			})
			return err
		}); err != nil {
			return onboarding.Result{}, err
		}
		comps = append(comps, compensation{onboarding.StepStripeSubscription, func(c workflow.Context) error {
			return onboarding.CancelSubscription.Run(c, onboarding.CancelInput{TenantID: in.TenantID, ID: sub.SubscriptionID})
		}})
	}

	// 3. The owner: Kratos identity and membership.
	var owner onboarding.OwnerResult
	if err = step(onboarding.StepOwner, func() (err error) {
		owner, err = onboarding.EnsureOwner.Run(extCtx, onboarding.OwnerInput{
			TenantID: in.TenantID, Email: in.Email, Name: in.ContactName,
		})
		return err
	}); err != nil {
		return onboarding.Result{}, err
	}
	comps = append(comps, compensation{onboarding.StepOwner, func(c workflow.Context) error {
		return onboarding.RemoveOwner.Run(c, onboarding.RemoveInput{TenantID: in.TenantID, IdentityID: owner.IdentityID})
	}})

	// 4. DefectDojo product, when configured.
	var product onboarding.ProductResult
	if err = step(onboarding.StepDefectDojo, func() (err error) {
		product, err = onboarding.EnsureProduct.Run(extCtx, onboarding.ProductInput{
			TenantID: in.TenantID, Slug: in.Slug, CompanyName: in.CompanyName,
		})
		return err
	}); err != nil {
		return onboarding.Result{}, err
	}
	if product.Skipped {
		w.set(ctx, onboarding.StepDefectDojo, onboarding.StateSkipped, "")
	} else {
		comps = append(comps, compensation{onboarding.StepDefectDojo, func(c workflow.Context) error {
			return onboarding.DeleteProduct.Run(c, onboarding.DeleteProductInput{TenantID: in.TenantID, ProductID: product.ProductID})
		}})
	}

	// 5. The first API key, sealed until the owner reveals it.
	var key onboarding.KeyResult
	if err = step(onboarding.StepAPIKey, func() (err error) {
		key, err = onboarding.CreateInitialAPIKey.Run(storeCtx, onboarding.KeyInput{TenantID: in.TenantID})
		return err
	}); err != nil {
		return onboarding.Result{}, err
	}
	comps = append(comps, compensation{onboarding.StepAPIKey, func(c workflow.Context) error {
		return onboarding.RevokeInitialAPIKey.Run(c, onboarding.RevokeKeyInput{TenantID: in.TenantID, APIKeyID: key.APIKeyID})
	}})

	// 6. The tier's default scan policy (and the target its schedule scans).
	if err = step(onboarding.StepScanPolicy, func() error {
		return onboarding.RecordScanPolicy.Run(storeCtx, onboarding.PolicyInput{
			TenantID: in.TenantID, Tier: in.Tier, InitialTarget: in.InitialTarget, Scanners: in.Scanners,
		})
	}); err != nil {
		return onboarding.Result{}, err
	}
	comps = append(comps, compensation{onboarding.StepScanPolicy, func(c workflow.Context) error {
		return onboarding.DeleteScanPolicy.Run(c, onboarding.TenantInput{TenantID: in.TenantID})
	}})

	// 7. The welcome email. Sent mail cannot be unsent: no compensation.
	trial := 0
	if !cust.Skipped {
		trial = tiers.TrialDays
	}
	if err = step(onboarding.StepWelcomeEmail, func() error {
		_, err := onboarding.SendWelcome.Run(extCtx, onboarding.WelcomeInput{
			TenantID: in.TenantID, To: in.Email, ContactName: in.ContactName, CompanyName: in.CompanyName,
			Tier: in.Tier, OwnerID: owner.IdentityID,
			InitialTarget: in.InitialTarget, TrialDays: trial, Attempt: w.attempt,
		})
		return err
	}); err != nil {
		return onboarding.Result{}, err
	}

	// 8. The baseline scan, a child that outlives this workflow. The tenant
	// is set up whatever the scan finds, so its failure fails nothing here.
	if in.InitialTarget == "" {
		w.set(ctx, onboarding.StepBaselineScan, onboarding.StateSkipped, "")
	} else {
		res.BaselineScanID = w.baselineScan(ctx, storeCtx)
	}

	// 9. Active; operators told; audited (in the activity's transaction).
	var status string
	if err = step(onboarding.StepActivate, func() (err error) {
		status, err = onboarding.ActivateTenant.Run(storeCtx, onboarding.TenantInput{TenantID: in.TenantID})
		return err
	}); err != nil {
		return onboarding.Result{}, err
	}
	w.notifyOps(ctx, "activated", "")
	// 10. The billing cycle, billing/<tenant-id>: from trial to paid. It
	// outlives this workflow. Onboardings recorded before billing cycles
	// existed replay without it.
	if !cust.Skipped && workflow.GetVersion(ctx, "billing-cycle", workflow.DefaultVersion, 1) == 1 {
		w.startBilling(ctx)
	}
	now := workflow.Now(ctx)
	w.progress.Status, w.progress.FinishedAt = onboarding.StatusCompleted, &now
	res.TenantID, res.Status = in.TenantID, status
	return res, nil
}

func (w *onboardingWorkflow) baselineScan(ctx, storeCtx workflow.Context) uuid.UUID {
	in := w.in
	w.set(ctx, onboarding.StepBaselineScan, onboarding.StateRunning, "")
	id := onboarding.BaselineScanID(in.TenantID)
	wid := scan.WorkflowID(id)
	scanners := []string{}
	offered := in.Scanners // installed ones, chosen at sign-up
	if t, ok := tiers.Get(in.Tier); ok && len(offered) == 0 {
		offered = t.Scanners // onboardings started before
	}
	for _, s := range offered {
		if scan.Known[s] {
			scanners = append(scanners, s)
		}
	}
	if len(scanners) == 0 {
		scanners = []string{"nmap"}
	}
	reg, err := onboarding.CreateBaselineScan.Run(storeCtx, onboarding.BaselineInput{
		TenantID: in.TenantID, ScanID: id, Target: in.InitialTarget, Scanners: scanners, WorkflowID: wid,
	})
	// The initial target is scanned weekly from now on (a verified target
	// only; an unverified one gets its schedule when the tenant adds it).
	// Onboardings recorded before schedules existed replay without it.
	if err == nil && !reg.NeedsVerification && workflow.GetVersion(ctx, "initial-target-schedule", workflow.DefaultVersion, 1) == 1 {
		every := 7 * 24 * time.Hour
		if t, ok := tiers.Get(in.Tier); ok && t.ScheduleInterval > 0 {
			every = t.ScheduleInterval
		}
		if _, serr := schedule.Ensure.Run(storeCtx, schedule.EnsureInput{
			TenantID: in.TenantID, TargetID: reg.TargetID, Scanners: scanners, Interval: every,
			Description: "weekly scan of the initial target (set up at sign-up)",
		}); serr != nil {
			workflow.GetLogger(ctx).Error("creating the initial target's schedule failed", "error", serr)
		}
	}
	if err == nil && reg.NeedsVerification {
		// Registered, not proven: scanning waits for the owner to verify it.
		w.set(ctx, onboarding.StepBaselineScan, onboarding.StateSkipped, "the target must be verified before it is scanned: POST /api/v1/targets/"+reg.TargetID.String()+"/verify")
		return uuid.Nil
	}
	if err == nil {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            wid,
			TaskQueue:             temporalx.QueueScans,
			ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			TypedSearchAttributes: scan.SearchAttributes(in.TenantID, scan.Kind, in.InitialTarget),
		})
		fut := scan.Workflow.ExecuteChild(cctx, scan.Input{
			TenantID: in.TenantID, ScanID: id, Target: in.InitialTarget, Scanners: scanners,
		})
		err = fut.GetChildWorkflowExecution().Get(ctx, nil)
		if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			err = nil // a reset run: the first run started it
		}
	}
	if err != nil {
		workflow.GetLogger(ctx).Warn("baseline scan not started", "error", err)
		w.set(ctx, onboarding.StepBaselineScan, onboarding.StateFailed, "the first scan could not be started; start one from the API")
		return uuid.Nil
	}
	w.set(ctx, onboarding.StepBaselineScan, onboarding.StateDone, "")
	return id
}

// startBilling starts the tenant's billing cycle as an abandoned child. A
// Stripe webhook may have started it already (signal-with-start): that one
// is the cycle. A failure to start fails nothing here: the first webhook
// about the tenant starts it.
func (w *onboardingWorkflow) startBilling(ctx workflow.Context) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            billing.WorkflowID(w.in.TenantID),
		TaskQueue:             temporalx.QueueOnboarding,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: billing.SearchAttributes(w.in.TenantID),
	})
	err := billing.Workflow.ExecuteChild(cctx, billing.Input{TenantID: w.in.TenantID}).GetChildWorkflowExecution().Get(ctx, nil)
	if err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		workflow.GetLogger(ctx).Error("the billing cycle was not started; the first Stripe webhook starts it", "error", err)
	}
}

// compensate undoes the completed steps in reverse, leaves the tenant failed
// with the reason and tells operators. It runs in a disconnected context so
// a cancelled onboarding is cleaned up too.
func (w *onboardingWorkflow) compensate(ctx workflow.Context, comps []compensation, reason string) {
	log := workflow.GetLogger(ctx)
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	dctx = workflow.WithActivityOptions(dctx, compensationOptions())
	for i := len(comps) - 1; i >= 0; i-- {
		c := comps[i]
		if err := c.undo(dctx); err != nil {
			log.Error("compensation failed", "step", c.step, "error", err)
			w.set(ctx, c.step, onboarding.StateFailed, "could not be undone; operators have been notified")
			continue
		}
		w.set(ctx, c.step, onboarding.StateCompensated, "")
	}
	if w.stepState(onboarding.StepTenant) == onboarding.StateDone {
		if err := onboarding.FailTenant.Run(dctx, onboarding.FailInput{TenantID: w.in.TenantID, Reason: reason}); err != nil {
			log.Error("recording the failure failed", "error", err)
		} else {
			w.set(ctx, onboarding.StepTenant, onboarding.StateCompensated, "")
		}
		w.notifyOps(dctx, "failed", reason)
	}
	now := workflow.Now(ctx)
	w.progress.Status, w.progress.FailureReason, w.progress.FinishedAt = onboarding.StatusFailed, reason, &now
}

// notifyOps is best effort: an operator email that cannot be sent must not
// fail (or undo) an onboarding.
func (w *onboardingWorkflow) notifyOps(ctx workflow.Context, event, reason string) {
	octx := workflow.WithActivityOptions(ctx, externalOptions())
	_, err := onboarding.NotifyOps.Run(octx, onboarding.OpsInput{
		TenantID: w.in.TenantID, Slug: w.in.Slug, CompanyName: w.in.CompanyName, Tier: w.in.Tier,
		Event: event, Attempt: w.attempt, Reason: reason, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
	})
	if err != nil {
		workflow.GetLogger(ctx).Error("operator notification failed", "event", event, "error", err)
	}
}

func (w *onboardingWorkflow) set(ctx workflow.Context, name, state, msg string) {
	now := workflow.Now(ctx)
	for i := range w.progress.Steps {
		s := &w.progress.Steps[i]
		if s.Name != name {
			continue
		}
		s.State = state
		switch state {
		case onboarding.StateRunning:
			s.StartedAt, s.FinishedAt, s.Error = &now, nil, nil
		case onboarding.StateSkipped:
			if s.StartedAt == nil {
				s.StartedAt = &now
			}
			s.FinishedAt = &now
		default:
			s.FinishedAt = &now
		}
		if msg != "" {
			s.Error = &msg
		}
	}
}

func (w *onboardingWorkflow) stepState(name string) string {
	for _, s := range w.progress.Steps {
		if s.Name == name {
			return s.State
		}
	}
	return ""
}

func failureReason(step string, err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && onboarding.UserFacing[app.Type()] {
		return step + ": " + app.Message()
	}
	if temporal.IsCanceledError(err) {
		return step + ": cancelled by an operator"
	}
	return step + ": failed; our operators have been notified"
}
