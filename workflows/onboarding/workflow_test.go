package onboarding

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
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/activities/defectdojo"
	"github.com/secureops/secureops/activities/email"
	"github.com/secureops/secureops/activities/identity"
	"github.com/secureops/secureops/activities/store"
	"github.com/secureops/secureops/activities/stripe"
	"github.com/secureops/secureops/workflows/scan"
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
	env    *testsuite.TestWorkflowEnvironment
	rec    *recorder
	in     Input
	scans  []scan.Input
	failAt string // activity name that fails for good
	// unverified: the initial target's ownership is not proven yet.
	unverified bool
}

func input() Input {
	return Input{
		TenantID: uuid.New(), Slug: "acme", CompanyName: "Acme", ContactName: "Ana Admin",
		Email: "ana@acme.test", Tier: "pro", InitialTarget: "127.0.0.1:8443", Phone: "+1 555 0100",
	}
}

// newHarness registers the real activity signatures under their production
// names and mocks every body; each call is recorded.
func newHarness(t *testing.T, in Input, failAt string, skipStripe, skipDojo bool, slowWelcome ...time.Duration) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	h := &harness{env: env, rec: &recorder{}, in: in, failAt: failAt}
	env.RegisterWorkflowWithOptions(OnboardingWorkflow, RegisterOptions())
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, si scan.Input) (scan.Result, error) {
		h.scans = append(h.scans, si)
		return scan.Result{Status: "completed"}, nil
	}, workflow.RegisterOptions{Name: scan.WorkflowName})

	st := &store.Onboarding{}
	sa := &stripe.Activities{}
	ia := &identity.Activities{}
	da := &defectdojo.Activities{}
	ea := &email.Activities{}
	reg := func(fn any, name string) { env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(st.ReserveTenant, store.ReserveTenantName)
	reg(st.CreateInitialAPIKey, store.CreateInitialAPIKeyName)
	reg(st.RevokeInitialAPIKey, store.RevokeInitialAPIKeyName)
	reg(st.RecordScanPolicy, store.RecordScanPolicyName)
	reg(st.DeleteScanPolicy, store.DeleteScanPolicyName)
	reg(st.CreateBaselineScan, store.CreateBaselineScanName)
	reg(st.ActivateTenant, store.ActivateTenantName)
	reg(st.FailTenant, store.FailTenantName)
	reg(sa.CreateCustomer, stripe.CreateCustomerName)
	reg(sa.CreateSubscription, stripe.CreateSubscriptionName)
	reg(sa.CancelSubscription, stripe.CancelSubscriptionName)
	reg(sa.DeleteCustomer, stripe.DeleteCustomerName)
	reg(ia.EnsureOwner, identity.EnsureOwnerName)
	reg(ia.RemoveOwner, identity.RemoveOwnerName)
	reg(da.EnsureProduct, defectdojo.EnsureProductName)
	reg(da.DeleteProduct, defectdojo.DeleteProductName)
	reg(ea.SendWelcome, email.SendWelcomeName)
	reg(ea.NotifyOps, email.NotifyOpsName)

	owner := uuid.New()
	key := uuid.New()
	fail := func(name string) error {
		h.rec.add(name)
		if name == h.failAt {
			return temporal.NewNonRetryableApplicationError("refused by "+name, failType(name), nil)
		}
		return nil
	}
	env.OnActivity(store.ReserveTenantName, mock.Anything, store.ReserveInput{
		TenantID: in.TenantID, Slug: in.Slug, CompanyName: in.CompanyName, Tier: in.Tier,
		ContactName: in.ContactName, Phone: in.Phone, Industry: in.Industry,
	}).Return(func(context.Context, store.ReserveInput) (store.ReserveResult, error) {
		return store.ReserveResult{Status: "onboarding", Attempt: 1}, fail(store.ReserveTenantName)
	})
	env.OnActivity(stripe.CreateCustomerName, mock.Anything, mock.Anything).Return(func(_ context.Context, ci stripe.CustomerInput) (stripe.CustomerResult, error) {
		if ci.Email != in.Email || ci.Attempt != 1 || ci.TenantID != in.TenantID {
			t.Errorf("customer input %+v", ci)
		}
		return stripe.CustomerResult{CustomerID: "cus_1", Skipped: skipStripe}, fail(stripe.CreateCustomerName)
	})
	env.OnActivity(stripe.CreateSubscriptionName, mock.Anything, stripe.SubscriptionInput{TenantID: in.TenantID, Attempt: 1, CustomerID: "cus_1", Tier: in.Tier}).
		Return(func(context.Context, stripe.SubscriptionInput) (stripe.SubscriptionResult, error) {
			return stripe.SubscriptionResult{SubscriptionID: "sub_1", Status: "trialing"}, fail(stripe.CreateSubscriptionName)
		})
	env.OnActivity(stripe.CancelSubscriptionName, mock.Anything, stripe.CancelInput{TenantID: in.TenantID, ID: "sub_1"}).
		Return(func(context.Context, stripe.CancelInput) error { return fail(stripe.CancelSubscriptionName) })
	env.OnActivity(stripe.DeleteCustomerName, mock.Anything, stripe.CancelInput{TenantID: in.TenantID, ID: "cus_1"}).
		Return(func(context.Context, stripe.CancelInput) error { return fail(stripe.DeleteCustomerName) })
	env.OnActivity(identity.EnsureOwnerName, mock.Anything, identity.OwnerInput{TenantID: in.TenantID, Email: in.Email, Name: in.ContactName}).
		Return(func(context.Context, identity.OwnerInput) (identity.OwnerResult, error) {
			return identity.OwnerResult{IdentityID: owner, RecoveryLink: "http://kratos/recovery?flow=1", RecoveryCode: "123456"}, fail(identity.EnsureOwnerName)
		})
	env.OnActivity(identity.RemoveOwnerName, mock.Anything, identity.RemoveInput{TenantID: in.TenantID, IdentityID: owner}).
		Return(func(context.Context, identity.RemoveInput) error { return fail(identity.RemoveOwnerName) })
	env.OnActivity(defectdojo.EnsureProductName, mock.Anything, defectdojo.ProductInput{TenantID: in.TenantID, Slug: in.Slug, CompanyName: in.CompanyName}).
		Return(func(context.Context, defectdojo.ProductInput) (defectdojo.ProductResult, error) {
			if skipDojo {
				return defectdojo.ProductResult{Skipped: true}, fail(defectdojo.EnsureProductName)
			}
			return defectdojo.ProductResult{ProductID: 42}, fail(defectdojo.EnsureProductName)
		})
	env.OnActivity(defectdojo.DeleteProductName, mock.Anything, defectdojo.DeleteInput{TenantID: in.TenantID, ProductID: 42}).
		Return(func(context.Context, defectdojo.DeleteInput) error { return fail(defectdojo.DeleteProductName) })
	env.OnActivity(store.CreateInitialAPIKeyName, mock.Anything, store.KeyInput{TenantID: in.TenantID}).
		Return(func(context.Context, store.KeyInput) (store.KeyResult, error) {
			return store.KeyResult{APIKeyID: key, Prefix: "abc"}, fail(store.CreateInitialAPIKeyName)
		})
	env.OnActivity(store.RevokeInitialAPIKeyName, mock.Anything, store.RevokeKeyInput{TenantID: in.TenantID, APIKeyID: key}).
		Return(func(context.Context, store.RevokeKeyInput) error { return fail(store.RevokeInitialAPIKeyName) })
	env.OnActivity(store.RecordScanPolicyName, mock.Anything, store.PolicyInput{TenantID: in.TenantID, Tier: in.Tier, InitialTarget: in.InitialTarget}).
		Return(func(context.Context, store.PolicyInput) error { return fail(store.RecordScanPolicyName) })
	env.OnActivity(store.DeleteScanPolicyName, mock.Anything, store.TenantInput{TenantID: in.TenantID}).
		Return(func(context.Context, store.TenantInput) error { return fail(store.DeleteScanPolicyName) })
	welcome := env.OnActivity(email.SendWelcomeName, mock.Anything, mock.Anything).Return(func(_ context.Context, wi email.WelcomeInput) (string, error) {
		if wi.RecoveryLink != "http://kratos/recovery?flow=1" || wi.To != in.Email || wi.TenantID != in.TenantID {
			t.Errorf("welcome input %+v", wi)
		}
		return "", fail(email.SendWelcomeName)
	})
	if len(slowWelcome) > 0 {
		welcome.After(slowWelcome[0])
	}
	env.OnActivity(store.CreateBaselineScanName, mock.Anything, mock.Anything).Return(func(_ context.Context, bi store.BaselineInput) (store.BaselineResult, error) {
		if bi.ScanID != BaselineScanID(in.TenantID) || bi.WorkflowID != scan.WorkflowID(bi.ScanID) || bi.Target != in.InitialTarget {
			t.Errorf("baseline input %+v", bi)
		}
		return store.BaselineResult{TargetID: uuid.New(), NeedsVerification: h.unverified}, fail(store.CreateBaselineScanName)
	})
	env.OnActivity(store.ActivateTenantName, mock.Anything, store.TenantInput{TenantID: in.TenantID}).
		Return(func(context.Context, store.TenantInput) (string, error) {
			return "active", fail(store.ActivateTenantName)
		})
	env.OnActivity(store.FailTenantName, mock.Anything, mock.Anything).Return(func(_ context.Context, fi store.FailInput) error {
		if fi.TenantID != in.TenantID || fi.Reason == "" {
			t.Errorf("fail input %+v", fi)
		}
		return fail(store.FailTenantName)
	})
	env.OnActivity(email.NotifyOpsName, mock.Anything, mock.Anything).Return(func(_ context.Context, oi email.OpsInput) (string, error) {
		h.rec.add(email.NotifyOpsName + "/" + oi.Event)
		return "", nil
	})
	return h
}

// failType is a business error type each step can really produce.
func failType(name string) string {
	switch name {
	case stripe.CreateCustomerName, stripe.CreateSubscriptionName:
		return stripe.ErrCardDeclined
	case identity.EnsureOwnerName:
		return identity.ErrIdentityRejected
	case defectdojo.EnsureProductName:
		return defectdojo.ErrRejected
	case email.SendWelcomeName:
		return email.ErrRejected
	}
	return "InvalidArgument"
}

func (h *harness) progress(t *testing.T) Progress {
	t.Helper()
	v, err := h.env.QueryWorkflow(QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

func states(p Progress) map[string]string {
	m := map[string]string{}
	for _, s := range p.Steps {
		m[s.Name] = s.State
	}
	return m
}

var forward = []string{
	store.ReserveTenantName, stripe.CreateCustomerName, stripe.CreateSubscriptionName, identity.EnsureOwnerName,
	defectdojo.EnsureProductName, store.CreateInitialAPIKeyName, store.RecordScanPolicyName, email.SendWelcomeName,
	store.CreateBaselineScanName, store.ActivateTenantName,
}

func TestOnboardingHappyPath(t *testing.T) {
	in := input()
	h := newHarness(t, in, "", false, false)
	h.env.ExecuteWorkflow(OnboardingWorkflow, in)
	if !h.env.IsWorkflowCompleted() || h.env.GetWorkflowError() != nil {
		t.Fatalf("completed=%v err=%v", h.env.IsWorkflowCompleted(), h.env.GetWorkflowError())
	}
	var res Result
	if err := h.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != "active" || res.TenantID != in.TenantID || res.BaselineScanID != BaselineScanID(in.TenantID) {
		t.Fatalf("result %+v", res)
	}
	want := append(slices.Clone(forward), email.NotifyOpsName+"/activated")
	if got := h.rec.list(); !slices.Equal(got, want) {
		t.Fatalf("calls\n got %v\nwant %v", got, want)
	}
	if len(h.scans) != 1 || h.scans[0].ScanID != res.BaselineScanID || h.scans[0].Target != in.InitialTarget {
		t.Fatalf("baseline scans %+v", h.scans)
	}
	p := h.progress(t)
	if p.Status != StatusCompleted || p.FinishedAt == nil {
		t.Fatalf("progress %+v", p)
	}
	for _, s := range p.Steps {
		if s.State != StateDone || s.StartedAt == nil || s.FinishedAt == nil || s.Error != nil {
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
	for _, s := range []string{StepStripeCustomer, StepStripeSubscription, StepDefectDojo, StepBaselineScan} {
		if got[s] != StateSkipped {
			t.Errorf("%s = %s, want skipped", s, got[s])
		}
	}
	for _, c := range h.rec.list() {
		if c == stripe.CreateSubscriptionName || c == store.CreateBaselineScanName {
			t.Errorf("%s ran though skipped", c)
		}
	}
	if len(h.scans) != 0 {
		t.Errorf("a baseline scan without a target: %+v", h.scans)
	}
}

// A failure at every step runs exactly the compensations of the steps done
// before it, newest first, then records the failure and tells operators.
func TestOnboardingFailureAtEveryStepCompensates(t *testing.T) {
	undo := map[string]string{
		stripe.CreateCustomerName:     stripe.DeleteCustomerName,
		stripe.CreateSubscriptionName: stripe.CancelSubscriptionName,
		identity.EnsureOwnerName:      identity.RemoveOwnerName,
		defectdojo.EnsureProductName:  defectdojo.DeleteProductName,
		store.CreateInitialAPIKeyName: store.RevokeInitialAPIKeyName,
		store.RecordScanPolicyName:    store.DeleteScanPolicyName,
	}
	stepOf := map[string]string{}
	for i, a := range forward {
		stepOf[a] = Steps[i]
	}
	for i, failing := range forward {
		if failing == store.CreateBaselineScanName {
			continue // not fatal; see TestOnboardingBaselineScanFailureIsNotFatal
		}
		t.Run(stepOf[failing], func(t *testing.T) {
			in := input()
			h := newHarness(t, in, failing, false, false)
			h.env.ExecuteWorkflow(OnboardingWorkflow, in)
			err := h.env.GetWorkflowError()
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != ErrOnboardingFailed {
				t.Fatalf("error %v, want %s", err, ErrOnboardingFailed)
			}
			want := slices.Clone(forward[:i+1])
			if failing == store.ActivateTenantName {
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
			if failing != store.ReserveTenantName {
				want = append(want, store.FailTenantName, email.NotifyOpsName+"/failed")
			}
			if got := h.rec.list(); !slices.Equal(got, want) {
				t.Fatalf("calls\n got %v\nwant %v", got, want)
			}

			p := h.progress(t)
			if p.Status != StatusFailed || p.FinishedAt == nil || !strings.HasPrefix(p.FailureReason, stepOf[failing]+": ") {
				t.Fatalf("progress %+v", p)
			}
			st := states(p)
			if st[stepOf[failing]] != StateFailed {
				t.Errorf("failing step %s = %s", stepOf[failing], st[stepOf[failing]])
			}
			for j, a := range forward[:i] {
				wantState := StateDone
				if _, ok := undo[a]; ok || a == store.ReserveTenantName {
					wantState = StateCompensated
				}
				if st[Steps[j]] != wantState {
					t.Errorf("step %s = %s, want %s", Steps[j], st[Steps[j]], wantState)
				}
			}
			for _, s := range Steps[i+1:] {
				if st[s] != StatePending {
					t.Errorf("step %s after the failure = %s, want pending", s, st[s])
				}
			}
		})
	}
}

func TestOnboardingFailureReasonIsUserFacingOnlyForBusinessErrors(t *testing.T) {
	in := input()
	h := newHarness(t, in, stripe.CreateCustomerName, false, false)
	h.env.ExecuteWorkflow(OnboardingWorkflow, in)
	if p := h.progress(t); p.FailureReason != "stripe_customer: refused by "+stripe.CreateCustomerName {
		t.Fatalf("reason %q", p.FailureReason)
	}
	h = newHarness(t, in, defectdojo.EnsureProductName, false, false)
	h.env.ExecuteWorkflow(OnboardingWorkflow, in)
	if p := h.progress(t); p.FailureReason != "defectdojo_product: failed; our operators have been notified" {
		t.Fatalf("reason %q", p.FailureReason)
	}
}

func TestOnboardingBaselineScanFailureIsNotFatal(t *testing.T) {
	in := input()
	h := newHarness(t, in, store.CreateBaselineScanName, false, false)
	h.env.ExecuteWorkflow(OnboardingWorkflow, in)
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	st := states(h.progress(t))
	if st[StepBaselineScan] != StateFailed || st[StepActivate] != StateDone {
		t.Fatalf("states %v", st)
	}
	if slices.Contains(h.rec.list(), store.FailTenantName) {
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
		store.DeleteScanPolicyName, store.RevokeInitialAPIKeyName, defectdojo.DeleteProductName, identity.RemoveOwnerName,
		stripe.CancelSubscriptionName, stripe.DeleteCustomerName, store.FailTenantName, email.NotifyOpsName + "/failed",
	}
	i := slices.Index(got, store.DeleteScanPolicyName)
	if i < 0 || !slices.Equal(got[i:], want) {
		t.Fatalf("calls %v, want them to end with %v", got, want)
	}
	p := h.progress(t)
	if p.Status != StatusFailed || p.FailureReason != StepWelcomeEmail+": cancelled by an operator" {
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
		if s.Name == StepBaselineScan && (s.State != StateSkipped || s.Error == nil || !strings.Contains(*s.Error, "/verify")) {
			t.Fatalf("baseline step %+v", s)
		}
	}
	if len(h.scans) != 0 {
		t.Fatalf("an unverified target was scanned: %+v", h.scans)
	}
}
