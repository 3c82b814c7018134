package onboardingflow

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/activities/defectdojo"
	"github.com/secureops/secureops/activities/email"
	"github.com/secureops/secureops/activities/identity"
	"github.com/secureops/secureops/activities/store"
	"github.com/secureops/secureops/activities/stripe"
	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/contract/scan"
)

// recorder keeps the order activities ran in.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, name)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

type harness struct {
	env   *testsuite.TestWorkflowEnvironment
	rec   *recorder
	in    onboarding.Input
	scans []scan.Input
	// billing: the billing cycles started (onboarding's last step).
	billing []billing.Input
	failAt  string // activity name that fails for good
	// unverified: the initial target's ownership is not proven yet.
	unverified bool
}

func input() onboarding.Input {
	return onboarding.Input{
		TenantID: uuid.New(), Slug: "acme", CompanyName: "Acme", ContactName: "Ana Admin",
		Email: "ana@acme.test", Tier: "pro", InitialTarget: "127.0.0.1:8443", Phone: "+1 555 0100",
	}
}

// newHarness registers the real activity signatures under their production
// names and mocks every body; each call is recorded.
func newHarness(t *testing.T, in onboarding.Input, failAt string, skipStripe, skipDojo bool, slowWelcome ...time.Duration) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	h := &harness{env: env, rec: &recorder{}, in: in, failAt: failAt}
	Register(env)
	scan.Workflow.Register(env, func(ctx workflow.Context, si scan.Input) (scan.Result, error) {
		h.scans = append(h.scans, si)
		return scan.Result{Status: "completed"}, nil
	})
	billing.Workflow.Register(env, func(ctx workflow.Context, bi billing.Input) (billing.State, error) {
		h.billing = append(h.billing, bi)
		return billing.State{}, nil
	})

	store.RegisterOnboarding(env, &store.Onboarding{})
	stripe.Register(env, &stripe.Activities{})
	identity.Register(env, &identity.Activities{})
	defectdojo.Register(env, &defectdojo.Activities{})
	email.Register(env, &email.Activities{})

	owner := uuid.New()
	key := uuid.New()
	fail := func(name string) error {
		h.rec.add(name)
		if name == h.failAt {
			return temporal.NewNonRetryableApplicationError("refused by "+name, failType(name), nil)
		}
		return nil
	}
	env.OnActivity(onboarding.ReserveTenant.Name, mock.Anything, onboarding.ReserveInput{
		TenantID: in.TenantID, Slug: in.Slug, CompanyName: in.CompanyName, Tier: in.Tier,
		ContactName: in.ContactName, Phone: in.Phone, Industry: in.Industry,
	}).Return(func(context.Context, onboarding.ReserveInput) (onboarding.ReserveResult, error) {
		return onboarding.ReserveResult{Status: "onboarding", Attempt: 1}, fail(onboarding.ReserveTenant.Name)
	})
	env.OnActivity(onboarding.CreateCustomer.Name, mock.Anything, mock.Anything).Return(func(_ context.Context, ci onboarding.CustomerInput) (onboarding.CustomerResult, error) {
		if ci.Email != in.Email || ci.Attempt != 1 || ci.TenantID != in.TenantID {
			t.Errorf("customer input %+v", ci)
		}
		return onboarding.CustomerResult{CustomerID: "cus_1", Skipped: skipStripe}, fail(onboarding.CreateCustomer.Name)
	})
	env.OnActivity(onboarding.CreateSubscription.Name, mock.Anything, onboarding.SubscriptionInput{TenantID: in.TenantID, Attempt: 1, CustomerID: "cus_1", Tier: in.Tier}).
		Return(func(context.Context, onboarding.SubscriptionInput) (onboarding.SubscriptionResult, error) {
			return onboarding.SubscriptionResult{SubscriptionID: "sub_1", Status: "trialing"}, fail(onboarding.CreateSubscription.Name)
		})
	env.OnActivity(onboarding.CancelSubscription.Name, mock.Anything, onboarding.CancelInput{TenantID: in.TenantID, ID: "sub_1"}).
		Return(func(context.Context, onboarding.CancelInput) error { return fail(onboarding.CancelSubscription.Name) })
	env.OnActivity(onboarding.DeleteCustomer.Name, mock.Anything, onboarding.CancelInput{TenantID: in.TenantID, ID: "cus_1"}).
		Return(func(context.Context, onboarding.CancelInput) error { return fail(onboarding.DeleteCustomer.Name) })
	env.OnActivity(onboarding.EnsureOwner.Name, mock.Anything, onboarding.OwnerInput{TenantID: in.TenantID, Email: in.Email, Name: in.ContactName}).
		Return(func(context.Context, onboarding.OwnerInput) (onboarding.OwnerResult, error) {
			return onboarding.OwnerResult{IdentityID: owner}, fail(onboarding.EnsureOwner.Name)
		})
	env.OnActivity(onboarding.RemoveOwner.Name, mock.Anything, onboarding.RemoveInput{TenantID: in.TenantID, IdentityID: owner}).
		Return(func(context.Context, onboarding.RemoveInput) error { return fail(onboarding.RemoveOwner.Name) })
	env.OnActivity(onboarding.EnsureProduct.Name, mock.Anything, onboarding.ProductInput{TenantID: in.TenantID, Slug: in.Slug, CompanyName: in.CompanyName}).
		Return(func(context.Context, onboarding.ProductInput) (onboarding.ProductResult, error) {
			if skipDojo {
				return onboarding.ProductResult{Skipped: true}, fail(onboarding.EnsureProduct.Name)
			}
			return onboarding.ProductResult{ProductID: 42}, fail(onboarding.EnsureProduct.Name)
		})
	env.OnActivity(onboarding.DeleteProduct.Name, mock.Anything, onboarding.DeleteProductInput{TenantID: in.TenantID, ProductID: 42}).
		Return(func(context.Context, onboarding.DeleteProductInput) error { return fail(onboarding.DeleteProduct.Name) })
	env.OnActivity(onboarding.CreateInitialAPIKey.Name, mock.Anything, onboarding.KeyInput{TenantID: in.TenantID}).
		Return(func(context.Context, onboarding.KeyInput) (onboarding.KeyResult, error) {
			return onboarding.KeyResult{APIKeyID: key, Prefix: "abc"}, fail(onboarding.CreateInitialAPIKey.Name)
		})
	env.OnActivity(onboarding.RevokeInitialAPIKey.Name, mock.Anything, onboarding.RevokeKeyInput{TenantID: in.TenantID, APIKeyID: key}).
		Return(func(context.Context, onboarding.RevokeKeyInput) error {
			return fail(onboarding.RevokeInitialAPIKey.Name)
		})
	env.OnActivity(onboarding.RecordScanPolicy.Name, mock.Anything, onboarding.PolicyInput{TenantID: in.TenantID, Tier: in.Tier, InitialTarget: in.InitialTarget}).
		Return(func(context.Context, onboarding.PolicyInput) error { return fail(onboarding.RecordScanPolicy.Name) })
	env.OnActivity(onboarding.DeleteScanPolicy.Name, mock.Anything, onboarding.TenantInput{TenantID: in.TenantID}).
		Return(func(context.Context, onboarding.TenantInput) error { return fail(onboarding.DeleteScanPolicy.Name) })
	welcome := env.OnActivity(onboarding.SendWelcome.Name, mock.Anything, mock.Anything).Return(func(_ context.Context, wi onboarding.WelcomeInput) (string, error) {
		if wi.OwnerID != owner || wi.To != in.Email || wi.TenantID != in.TenantID {
			t.Errorf("welcome input %+v", wi)
		}
		return "", fail(onboarding.SendWelcome.Name)
	})
	if len(slowWelcome) > 0 {
		welcome.After(slowWelcome[0])
	}
	env.OnActivity(onboarding.CreateBaselineScan.Name, mock.Anything, mock.Anything).Return(func(_ context.Context, bi onboarding.BaselineInput) (onboarding.BaselineResult, error) {
		if bi.ScanID != onboarding.BaselineScanID(in.TenantID) || bi.WorkflowID != scan.WorkflowID(bi.ScanID) || bi.Target != in.InitialTarget {
			t.Errorf("baseline input %+v", bi)
		}
		return onboarding.BaselineResult{TargetID: uuid.New(), NeedsVerification: h.unverified}, fail(onboarding.CreateBaselineScan.Name)
	})
	env.OnActivity(onboarding.ActivateTenant.Name, mock.Anything, onboarding.TenantInput{TenantID: in.TenantID}).
		Return(func(context.Context, onboarding.TenantInput) (string, error) {
			return "active", fail(onboarding.ActivateTenant.Name)
		})
	env.OnActivity(onboarding.FailTenant.Name, mock.Anything, mock.Anything).Return(func(_ context.Context, fi onboarding.FailInput) error {
		if fi.TenantID != in.TenantID || fi.Reason == "" {
			t.Errorf("fail input %+v", fi)
		}
		return fail(onboarding.FailTenant.Name)
	})
	env.OnActivity(onboarding.NotifyOps.Name, mock.Anything, mock.Anything).Return(func(_ context.Context, oi onboarding.OpsInput) (string, error) {
		h.rec.add(onboarding.NotifyOps.Name + "/" + oi.Event)
		return "", nil
	})
	return h
}

// failType is a business error type each step can really produce.
func failType(name string) string {
	switch name {
	case onboarding.CreateCustomer.Name, onboarding.CreateSubscription.Name:
		return onboarding.ErrCardDeclined
	case onboarding.EnsureOwner.Name:
		return onboarding.ErrIdentityRejected
	case onboarding.EnsureProduct.Name:
		return onboarding.ErrDefectDojoRejected
	case onboarding.SendWelcome.Name:
		return onboarding.ErrEmailRejected
	}
	return "InvalidArgument"
}

func (h *harness) progress(t *testing.T) onboarding.Progress {
	t.Helper()
	v, err := h.env.QueryWorkflow(onboarding.QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var p onboarding.Progress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

func states(p onboarding.Progress) map[string]string {
	m := map[string]string{}
	for _, s := range p.Steps {
		m[s.Name] = s.State
	}
	return m
}

var forward = []string{
	onboarding.ReserveTenant.Name, onboarding.CreateCustomer.Name, onboarding.CreateSubscription.Name, onboarding.EnsureOwner.Name,
	onboarding.EnsureProduct.Name, onboarding.CreateInitialAPIKey.Name, onboarding.RecordScanPolicy.Name, onboarding.SendWelcome.Name,
	onboarding.CreateBaselineScan.Name, onboarding.ActivateTenant.Name,
}

func TestOnboardingHappyPath(t *testing.T) {
	in := input()
	h := newHarness(t, in, "", false, false)
	h.env.ExecuteWorkflow(OnboardingWorkflow, in)
	if !h.env.IsWorkflowCompleted() || h.env.GetWorkflowError() != nil {
		t.Fatalf("completed=%v err=%v", h.env.IsWorkflowCompleted(), h.env.GetWorkflowError())
	}
	var res onboarding.Result
	if err := h.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != "active" || res.TenantID != in.TenantID || res.BaselineScanID != onboarding.BaselineScanID(in.TenantID) {
		t.Fatalf("result %+v", res)
	}
	want := append(slices.Clone(forward), onboarding.NotifyOps.Name+"/activated")
	if got := h.rec.list(); !slices.Equal(got, want) {
		t.Fatalf("calls\n got %v\nwant %v", got, want)
	}
	if len(h.scans) != 1 || h.scans[0].ScanID != res.BaselineScanID || h.scans[0].Target != in.InitialTarget {
		t.Fatalf("baseline scans %+v", h.scans)
	}
	// The last step starts the tenant's billing cycle.
	if len(h.billing) != 1 || h.billing[0].TenantID != in.TenantID || h.billing[0].Carry != nil {
		t.Fatalf("billing cycles %+v", h.billing)
	}
	p := h.progress(t)
	if p.Status != onboarding.StatusCompleted || p.FinishedAt == nil {
		t.Fatalf("progress %+v", p)
	}
	for _, s := range p.Steps {
		if s.State != onboarding.StateDone || s.StartedAt == nil || s.FinishedAt == nil || s.Error != nil {
			t.Errorf("step %+v", s)
		}
	}
}

func TestOnboardingSkipsUnconfiguredSteps(t *testing.T) {
	in := input()
	in.InitialTarget = ""
	h := newHarness(t, in, "", true, true)
	h.env.ExecuteWorkflow(OnboardingWorkflow, in)
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	got := states(h.progress(t))
	for _, s := range []string{onboarding.StepStripeCustomer, onboarding.StepStripeSubscription, onboarding.StepDefectDojo, onboarding.StepBaselineScan} {
		if got[s] != onboarding.StateSkipped {
			t.Errorf("%s = %s, want skipped", s, got[s])
		}
	}
	for _, c := range h.rec.list() {
		if c == onboarding.CreateSubscription.Name || c == onboarding.CreateBaselineScan.Name {
			t.Errorf("%s ran though skipped", c)
		}
	}
	if len(h.scans) != 0 {
		t.Errorf("a baseline scan without a target: %+v", h.scans)
	}
	if len(h.billing) != 0 {
		t.Errorf("a billing cycle without Stripe: %+v", h.billing)
	}
}

// A failure at every step runs exactly the compensations of the steps done
// before it, newest first, then records the failure and tells operators.
func TestOnboardingFailureAtEveryStepCompensates(t *testing.T) {
	undo := map[string]string{
		onboarding.CreateCustomer.Name:      onboarding.DeleteCustomer.Name,
		onboarding.CreateSubscription.Name:  onboarding.CancelSubscription.Name,
		onboarding.EnsureOwner.Name:         onboarding.RemoveOwner.Name,
		onboarding.EnsureProduct.Name:       onboarding.DeleteProduct.Name,
		onboarding.CreateInitialAPIKey.Name: onboarding.RevokeInitialAPIKey.Name,
		onboarding.RecordScanPolicy.Name:    onboarding.DeleteScanPolicy.Name,
	}
	stepOf := map[string]string{}
	for i, a := range forward {
		stepOf[a] = onboarding.Steps[i]
	}
	for i, failing := range forward {
		if failing == onboarding.CreateBaselineScan.Name {
			continue // not fatal; see TestOnboardingBaselineScanFailureIsNotFatal
		}
		t.Run(stepOf[failing], func(t *testing.T) {
			in := input()
			h := newHarness(t, in, failing, false, false)
			h.env.ExecuteWorkflow(OnboardingWorkflow, in)
			err := h.env.GetWorkflowError()
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != onboarding.ErrOnboardingFailed {
				t.Fatalf("error %v, want %s", err, onboarding.ErrOnboardingFailed)
			}
			want := slices.Clone(forward[:i+1])
			if failing == onboarding.ActivateTenant.Name {
				// The baseline scan ran before activation.
				want = slices.Clone(forward)
			}
			var comps []string
			for j := i - 1; j >= 0; j-- {
				if u, ok := undo[forward[j]]; ok {
					comps = append(comps, u)
				}
			}
			want = append(want, comps...)
			if failing != onboarding.ReserveTenant.Name {
				want = append(want, onboarding.FailTenant.Name, onboarding.NotifyOps.Name+"/failed")
			}
			if got := h.rec.list(); !slices.Equal(got, want) {
				t.Fatalf("calls\n got %v\nwant %v", got, want)
			}

			p := h.progress(t)
			if p.Status != onboarding.StatusFailed || p.FinishedAt == nil || !strings.HasPrefix(p.FailureReason, stepOf[failing]+": ") {
				t.Fatalf("progress %+v", p)
			}
			st := states(p)
			if st[stepOf[failing]] != onboarding.StateFailed {
				t.Errorf("failing step %s = %s", stepOf[failing], st[stepOf[failing]])
			}
			for j, a := range forward[:i] {
				wantState := onboarding.StateDone
				if _, ok := undo[a]; ok || a == onboarding.ReserveTenant.Name {
					wantState = onboarding.StateCompensated
				}
				if st[onboarding.Steps[j]] != wantState {
					t.Errorf("step %s = %s, want %s", onboarding.Steps[j], st[onboarding.Steps[j]], wantState)
				}
			}
			for _, s := range onboarding.Steps[i+1:] {
				if st[s] != onboarding.StatePending {
					t.Errorf("step %s after the failure = %s, want pending", s, st[s])
				}
			}
		})
	}
}

func TestOnboardingFailureReasonIsUserFacingOnlyForBusinessErrors(t *testing.T) {
	in := input()
	h := newHarness(t, in, onboarding.CreateCustomer.Name, false, false)
	h.env.ExecuteWorkflow(OnboardingWorkflow, in)
	if p := h.progress(t); p.FailureReason != "stripe_customer: refused by "+onboarding.CreateCustomer.Name {
		t.Fatalf("reason %q", p.FailureReason)
	}
	h = newHarness(t, in, onboarding.EnsureProduct.Name, false, false)
	h.env.ExecuteWorkflow(OnboardingWorkflow, in)
	if p := h.progress(t); p.FailureReason != "defectdojo_product: failed; our operators have been notified" {
		t.Fatalf("reason %q", p.FailureReason)
	}
}

func TestOnboardingBaselineScanFailureIsNotFatal(t *testing.T) {
	in := input()
	h := newHarness(t, in, onboarding.CreateBaselineScan.Name, false, false)
	h.env.ExecuteWorkflow(OnboardingWorkflow, in)
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	st := states(h.progress(t))
	if st[onboarding.StepBaselineScan] != onboarding.StateFailed || st[onboarding.StepActivate] != onboarding.StateDone {
		t.Fatalf("states %v", st)
	}
	if slices.Contains(h.rec.list(), onboarding.FailTenant.Name) {
		t.Fatal("a failed baseline scan failed the onboarding")
	}
}

// An operator cancelling a running onboarding gets the same clean-up as a
// failure: the compensations run in a disconnected context.
func TestOnboardingCancelledCompensates(t *testing.T) {
	in := input()
	h := newHarness(t, in, "", false, false, time.Hour)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Minute)
	h.env.ExecuteWorkflow(OnboardingWorkflow, in)
	if err := h.env.GetWorkflowError(); err == nil {
		t.Fatal("a cancelled onboarding completed")
	}
	got := h.rec.list()
	want := []string{
		onboarding.DeleteScanPolicy.Name, onboarding.RevokeInitialAPIKey.Name, onboarding.DeleteProduct.Name, onboarding.RemoveOwner.Name,
		onboarding.CancelSubscription.Name, onboarding.DeleteCustomer.Name, onboarding.FailTenant.Name, onboarding.NotifyOps.Name + "/failed",
	}
	i := slices.Index(got, onboarding.DeleteScanPolicy.Name)
	if i < 0 || !slices.Equal(got[i:], want) {
		t.Fatalf("calls %v, want them to end with %v", got, want)
	}
	p := h.progress(t)
	if p.Status != onboarding.StatusFailed || p.FailureReason != onboarding.StepWelcomeEmail+": cancelled by an operator" {
		t.Fatalf("progress %+v", p)
	}
}

// An initial target that needs an ownership proof is registered, not
// scanned; the onboarding completes.
func TestOnboardingUnverifiedTargetIsNotScanned(t *testing.T) {
	in := input()
	h := newHarness(t, in, "", false, false)
	h.unverified = true
	h.env.ExecuteWorkflow(OnboardingWorkflow, in)
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	p := h.progress(t)
	for _, s := range p.Steps {
		if s.Name == onboarding.StepBaselineScan && (s.State != onboarding.StateSkipped || s.Error == nil || !strings.Contains(*s.Error, "/verify")) {
			t.Fatalf("baseline step %+v", s)
		}
	}
	if len(h.scans) != 0 {
		t.Fatalf("an unverified target was scanned: %+v", h.scans)
	}
}
