package onboarding

import (
	"errors"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/activities/defectdojo"
	"github.com/secureops/secureops/activities/email"
	"github.com/secureops/secureops/activities/identity"
	"github.com/secureops/secureops/activities/scanner"
	aschedules "github.com/secureops/secureops/activities/schedules"
	"github.com/secureops/secureops/activities/store"
	"github.com/secureops/secureops/activities/stripe"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/tiers"
	"github.com/secureops/secureops/workflows/scan"
)

// ErrOnboardingFailed is the type of the error a failed onboarding ends with.
const ErrOnboardingFailed = "OnboardingFailed"

// OnboardingWorkflow takes a sign-up to an active tenant.
func OnboardingWorkflow(ctx workflow.Context, in Input) (Result, error) {
	w := &onboardingWorkflow{in: in}
	if err := w.setup(ctx); err != nil {
		return Result{}, err
	}
	return w.run(ctx)
}

type onboardingWorkflow struct {
	in       Input
	progress Progress
	attempt  int
}

// compensation undoes one step; they run in reverse order.
type compensation struct {
	step string
	undo func(ctx workflow.Context) error
}

func (w *onboardingWorkflow) setup(ctx workflow.Context) error {
	w.progress = Progress{Status: StatusRunning, TenantID: w.in.TenantID, StartedAt: workflow.Now(ctx)}
	for _, s := range Steps {
		w.progress.Steps = append(w.progress.Steps, Step{Name: s, State: StatePending})
	}
	return workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) { return w.progress, nil })
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
			NonRetryableErrorTypes: []string{"SlugTaken", store.ErrNotConfigured, "InvalidArgument"},
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
				stripe.ErrCardDeclined, stripe.ErrInvalidRequest, stripe.ErrAuthentication,
				identity.ErrIdentityRejected, defectdojo.ErrRejected, email.ErrRejected, store.ErrNotConfigured,
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

func (w *onboardingWorkflow) run(ctx workflow.Context) (res Result, err error) {
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
		err = temporal.NewNonRetryableApplicationError(reason, ErrOnboardingFailed, err)
	}()
	step := func(name string, fn func() error) error {
		w.set(ctx, name, StateRunning, "")
		if err := fn(); err != nil {
			failedStep = name
			w.set(ctx, name, StateFailed, failureReason(name, err))
			return err
		}
		w.set(ctx, name, StateDone, "")
		return nil
	}

	// 1. The tenant row, status onboarding.
	var reserved store.ReserveResult
	if err = step(StepTenant, func() error {
		return workflow.ExecuteActivity(storeCtx, store.ReserveTenantName, store.ReserveInput{
			TenantID: in.TenantID, Slug: in.Slug, CompanyName: in.CompanyName, Tier: in.Tier,
			ContactName: in.ContactName, Phone: in.Phone, Industry: in.Industry,
		}).Get(ctx, &reserved)
	}); err != nil {
		return Result{}, err
	}
	w.attempt = reserved.Attempt

	// 2. Stripe: the customer, then the trial subscription.
	var cust stripe.CustomerResult
	if err = step(StepStripeCustomer, func() error {
		return workflow.ExecuteActivity(extCtx, stripe.CreateCustomerName, stripe.CustomerInput{
			TenantID: in.TenantID, Attempt: w.attempt, CompanyName: in.CompanyName, ContactName: in.ContactName,
			Email: in.Email, Phone: in.Phone,
		}).Get(ctx, &cust)
	}); err != nil {
		return Result{}, err
	}
	if cust.Skipped {
		w.set(ctx, StepStripeCustomer, StateSkipped, "")
	} else {
		comps = append(comps, compensation{StepStripeCustomer, func(c workflow.Context) error {
			return workflow.ExecuteActivity(c, stripe.DeleteCustomerName, stripe.CancelInput{TenantID: in.TenantID, ID: cust.CustomerID}).Get(c, nil)
		}})
	}
	var sub stripe.SubscriptionResult
	if cust.Skipped {
		w.set(ctx, StepStripeSubscription, StateSkipped, "")
	} else {
		if err = step(StepStripeSubscription, func() error {
			return workflow.ExecuteActivity(extCtx, stripe.CreateSubscriptionName, stripe.SubscriptionInput{
				TenantID: in.TenantID, Attempt: w.attempt, CustomerID: cust.CustomerID, Tier: in.Tier,
			}).Get(ctx, &sub)
		}); err != nil {
			return Result{}, err
		}
		comps = append(comps, compensation{StepStripeSubscription, func(c workflow.Context) error {
			return workflow.ExecuteActivity(c, stripe.CancelSubscriptionName, stripe.CancelInput{TenantID: in.TenantID, ID: sub.SubscriptionID}).Get(c, nil)
		}})
	}

	// 3. The owner: Kratos identity, membership, recovery link.
	var owner identity.OwnerResult
	if err = step(StepOwner, func() error {
		return workflow.ExecuteActivity(extCtx, identity.EnsureOwnerName, identity.OwnerInput{
			TenantID: in.TenantID, Email: in.Email, Name: in.ContactName,
		}).Get(ctx, &owner)
	}); err != nil {
		return Result{}, err
	}
	comps = append(comps, compensation{StepOwner, func(c workflow.Context) error {
		return workflow.ExecuteActivity(c, identity.RemoveOwnerName, identity.RemoveInput{TenantID: in.TenantID, IdentityID: owner.IdentityID}).Get(c, nil)
	}})

	// 4. DefectDojo product, when configured.
	var product defectdojo.ProductResult
	if err = step(StepDefectDojo, func() error {
		return workflow.ExecuteActivity(extCtx, defectdojo.EnsureProductName, defectdojo.ProductInput{
			TenantID: in.TenantID, Slug: in.Slug, CompanyName: in.CompanyName,
		}).Get(ctx, &product)
	}); err != nil {
		return Result{}, err
	}
	if product.Skipped {
		w.set(ctx, StepDefectDojo, StateSkipped, "")
	} else {
		comps = append(comps, compensation{StepDefectDojo, func(c workflow.Context) error {
			return workflow.ExecuteActivity(c, defectdojo.DeleteProductName, defectdojo.DeleteInput{TenantID: in.TenantID, ProductID: product.ProductID}).Get(c, nil)
		}})
	}

	// 5. The first API key, sealed until the owner reveals it.
	var key store.KeyResult
	if err = step(StepAPIKey, func() error {
		return workflow.ExecuteActivity(storeCtx, store.CreateInitialAPIKeyName, store.KeyInput{TenantID: in.TenantID}).Get(ctx, &key)
	}); err != nil {
		return Result{}, err
	}
	comps = append(comps, compensation{StepAPIKey, func(c workflow.Context) error {
		return workflow.ExecuteActivity(c, store.RevokeInitialAPIKeyName, store.RevokeKeyInput{TenantID: in.TenantID, APIKeyID: key.APIKeyID}).Get(c, nil)
	}})

	// 6. The tier's default scan policy (and the target its schedule scans).
	if err = step(StepScanPolicy, func() error {
		return workflow.ExecuteActivity(storeCtx, store.RecordScanPolicyName, store.PolicyInput{
			TenantID: in.TenantID, Tier: in.Tier, InitialTarget: in.InitialTarget,
		}).Get(ctx, nil)
	}); err != nil {
		return Result{}, err
	}
	comps = append(comps, compensation{StepScanPolicy, func(c workflow.Context) error {
		return workflow.ExecuteActivity(c, store.DeleteScanPolicyName, store.TenantInput{TenantID: in.TenantID}).Get(c, nil)
	}})

	// 7. The welcome email. Sent mail cannot be unsent: no compensation.
	trial := 0
	if !cust.Skipped {
		trial = tiers.TrialDays
	}
	if err = step(StepWelcomeEmail, func() error {
		return workflow.ExecuteActivity(extCtx, email.SendWelcomeName, email.WelcomeInput{
			TenantID: in.TenantID, To: in.Email, ContactName: in.ContactName, CompanyName: in.CompanyName,
			Tier: in.Tier, RecoveryLink: owner.RecoveryLink, RecoveryCode: owner.RecoveryCode,
			InitialTarget: in.InitialTarget, TrialDays: trial, Attempt: w.attempt,
		}).Get(ctx, nil)
	}); err != nil {
		return Result{}, err
	}

	// 8. The baseline scan, a child that outlives this workflow. The tenant
	// is set up whatever the scan finds, so its failure fails nothing here.
	if in.InitialTarget == "" {
		w.set(ctx, StepBaselineScan, StateSkipped, "")
	} else {
		res.BaselineScanID = w.baselineScan(ctx, storeCtx)
	}

	// 9. Active; operators told; audited (in the activity's transaction).
	var status string
	if err = step(StepActivate, func() error {
		return workflow.ExecuteActivity(storeCtx, store.ActivateTenantName, store.TenantInput{TenantID: in.TenantID}).Get(ctx, &status)
	}); err != nil {
		return Result{}, err
	}
	w.notifyOps(ctx, "activated", "")
	now := workflow.Now(ctx)
	w.progress.Status, w.progress.FinishedAt = StatusCompleted, &now
	res.TenantID, res.Status = in.TenantID, status
	return res, nil
}

// BaselineScanID is the first scan's id: derived from the tenant, so a
// reset run finds the scan the first run started instead of starting another.
func BaselineScanID(tenant uuid.UUID) uuid.UUID {
	return uuid.NewSHA1(tenant, []byte("secureops/baseline-scan"))
}

func (w *onboardingWorkflow) baselineScan(ctx, storeCtx workflow.Context) uuid.UUID {
	in := w.in
	w.set(ctx, StepBaselineScan, StateRunning, "")
	id := BaselineScanID(in.TenantID)
	wid := scan.WorkflowID(id)
	scanners := []string{}
	if t, ok := tiers.Get(in.Tier); ok {
		for _, s := range t.Scanners {
			if scanner.Known[s] {
				scanners = append(scanners, s)
			}
		}
	}
	if len(scanners) == 0 {
		scanners = []string{"nmap"}
	}
	var reg store.BaselineResult
	err := workflow.ExecuteActivity(storeCtx, store.CreateBaselineScanName, store.BaselineInput{
		TenantID: in.TenantID, ScanID: id, Target: in.InitialTarget, Scanners: scanners, WorkflowID: wid,
	}).Get(ctx, &reg)
	// The initial target is scanned weekly from now on (a verified target
	// only; an unverified one gets its schedule when the tenant adds it).
	// Onboardings recorded before schedules existed replay without it.
	if err == nil && !reg.NeedsVerification && workflow.GetVersion(ctx, "initial-target-schedule", workflow.DefaultVersion, 1) == 1 {
		every := 7 * 24 * time.Hour
		if t, ok := tiers.Get(in.Tier); ok && t.ScheduleInterval > 0 {
			every = t.ScheduleInterval
		}
		if serr := workflow.ExecuteActivity(storeCtx, aschedules.EnsureName, aschedules.EnsureInput{
			TenantID: in.TenantID, TargetID: reg.TargetID, Scanners: scanners, Interval: every,
			Description: "weekly scan of the initial target (set up at sign-up)",
		}).Get(ctx, nil); serr != nil {
			workflow.GetLogger(ctx).Error("creating the initial target's schedule failed", "error", serr)
		}
	}
	if err == nil && reg.NeedsVerification {
		// Registered, not proven: scanning waits for the owner to verify it.
		w.set(ctx, StepBaselineScan, StateSkipped, "the target must be verified before it is scanned: POST /api/v1/targets/"+reg.TargetID.String()+"/verify")
		return uuid.Nil
	}
	if err == nil {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            wid,
			TaskQueue:             temporalx.QueueScans,
			ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				temporalx.SATenantID.ValueSet(in.TenantID.String()),
				temporalx.SAKind.ValueSet("scan"),
				temporalx.ScanTargetValue(in.InitialTarget),
			),
		})
		fut := workflow.ExecuteChildWorkflow(cctx, scan.WorkflowName, scan.Input{
			TenantID: in.TenantID, ScanID: id, Target: in.InitialTarget, Scanners: scanners,
		})
		err = fut.GetChildWorkflowExecution().Get(ctx, nil)
		if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			err = nil // a reset run: the first run started it
		}
	}
	if err != nil {
		workflow.GetLogger(ctx).Warn("baseline scan not started", "error", err)
		w.set(ctx, StepBaselineScan, StateFailed, "the first scan could not be started; start one from the API")
		return uuid.Nil
	}
	w.set(ctx, StepBaselineScan, StateDone, "")
	return id
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
			w.set(ctx, c.step, StateFailed, "could not be undone; operators have been notified")
			continue
		}
		w.set(ctx, c.step, StateCompensated, "")
	}
	if w.stepState(StepTenant) == StateDone {
		if err := workflow.ExecuteActivity(dctx, store.FailTenantName, store.FailInput{TenantID: w.in.TenantID, Reason: reason}).Get(dctx, nil); err != nil {
			log.Error("recording the failure failed", "error", err)
		} else {
			w.set(ctx, StepTenant, StateCompensated, "")
		}
		w.notifyOps(dctx, "failed", reason)
	}
	now := workflow.Now(ctx)
	w.progress.Status, w.progress.FailureReason, w.progress.FinishedAt = StatusFailed, reason, &now
}

// notifyOps is best effort: an operator email that cannot be sent must not
// fail (or undo) an onboarding.
func (w *onboardingWorkflow) notifyOps(ctx workflow.Context, event, reason string) {
	octx := workflow.WithActivityOptions(ctx, externalOptions())
	err := workflow.ExecuteActivity(octx, email.NotifyOpsName, email.OpsInput{
		TenantID: w.in.TenantID, Slug: w.in.Slug, CompanyName: w.in.CompanyName, Tier: w.in.Tier,
		Event: event, Attempt: w.attempt, Reason: reason, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
	}).Get(ctx, nil)
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
		case StateRunning:
			s.StartedAt, s.FinishedAt, s.Error = &now, nil, nil
		case StateSkipped:
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

// userFacing lists the error types whose message may be shown to the person
// signing up; anything else may carry internals and stays in the history.
var userFacing = map[string]bool{
	stripe.ErrCardDeclined: true, identity.ErrIdentityRejected: true, email.ErrRejected: true, "SlugTaken": true,
}

func failureReason(step string, err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && userFacing[app.Type()] {
		return step + ": " + app.Message()
	}
	if temporal.IsCanceledError(err) {
		return step + ": cancelled by an operator"
	}
	return step + ": failed; our operators have been notified"
}
