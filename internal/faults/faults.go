// Package faults holds the few fault-injection points `make chaos` needs to
// kill a process at an exact step. A point is armed by naming it in
// SECUREOPS_FAULT_PAUSE (comma-separated); the process then stops there for
// SECUREOPS_FAULT_PAUSE_FOR (default 1m), long enough for the harness to
// SIGKILL it. Production ignores both variables.
package faults

import (
	"log/slog"
	"os"
	"strings"
	"time"
)

// ScanRowWritten is in the API between writing a scan's row and starting its
// workflow: the window the reconciler closes.
const ScanRowWritten = "scan-row-written"

var armed, pauseFor = load()

func load() (map[string]bool, time.Duration) {
	if os.Getenv("SECUREOPS_ENV") == "production" {
		return nil, 0
	}
	m := map[string]bool{}
	for _, p := range strings.FieldsFunc(os.Getenv("SECUREOPS_FAULT_PAUSE"), func(r rune) bool { return r == ',' || r == ' ' }) {
		m[p] = true
	}
	d, err := time.ParseDuration(os.Getenv("SECUREOPS_FAULT_PAUSE_FOR"))
	if err != nil || d <= 0 {
		d = time.Minute
	}
	return m, d
}

// Pause stops the calling goroutine at point when it is armed.
func Pause(point string) {
	if !armed[point] {
		return
	}
	slog.Warn("fault injection: pausing", "point", point, "for", pauseFor)
	time.Sleep(pauseFor)
}

// Points that stop a step after its side effect and before it is recorded
// (or the activity returns), for one tenant: `make chaos` kills the worker
// there and checks that the retry on a fresh worker duplicates nothing.
// Armed per tenant as "<point>@<tenant-id>" (PauseFor), or for every tenant
// by the bare point.
const (
	// OnboardingTenant: the tenant row committed (store.ReserveTenant).
	OnboardingTenant = "onboarding-tenant"
	// OnboardingStripeCustomer: Stripe created the customer; its id is not
	// stored yet (stripe.CreateCustomer).
	OnboardingStripeCustomer = "onboarding-stripe-customer"
	// OnboardingStripeSubscription: Stripe created the subscription; its id
	// is not stored yet (stripe.CreateSubscription).
	OnboardingStripeSubscription = "onboarding-stripe-subscription"
	// OnboardingIdentity: Kratos holds the owner's identity; no user row or
	// membership yet (identity.EnsureOwner).
	OnboardingIdentity = "onboarding-identity"
	// OnboardingAPIKey: the initial API key committed (store.CreateInitialAPIKey).
	OnboardingAPIKey = "onboarding-api-key"
	// EmailSent: Resend accepted a message not yet marked sent in the
	// outbox (email.Send; never reached with the outbox as the mailbox).
	EmailSent = "email-sent"
	// BillingMeterSent: Stripe took a meter event not yet recorded
	// (stripe.BillingMeter).
	BillingMeterSent = "billing-meter-sent"
	// TriageEvaluated: a scan's triage decisions committed, the activity not
	// returned (triaging.Evaluate).
	TriageEvaluated = "triage-evaluated"
)

// PauseFor is Pause at point for one subject (a tenant id): armed by
// "<point>@<subject>" or by the bare point.
func PauseFor(point, subject string) {
	if armed[point+"@"+subject] {
		Pause(point + "@" + subject)
		return
	}
	Pause(point)
}
