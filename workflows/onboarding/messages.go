// Package onboarding is the Onboarding workflow: a company's sign-up taken
// to an active tenant with a subscription, an owner, an API key, a scan
// policy and a welcome email, or, when a step fails for good, undone step by
// step and left failed with the reason.
package onboarding

import (
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/workflow"
)

// WorkflowName is the registered name.
const WorkflowName = "Onboarding"

// QueryProgress returns the Progress of an onboarding.
const QueryProgress = "progress"

// Kind is the Kind search attribute of onboarding workflows.
const Kind = "onboarding"

// WorkflowID is one onboarding per tenant slug, ever: the slug is what a
// second sign-up for the same company collides on.
func WorkflowID(slug string) string { return "onboarding/" + slug }

// Input is a validated sign-up. It holds personal data: the payload codec
// encrypts it in Temporal's history.
type Input struct {
	TenantID      uuid.UUID `json:"tenant_id"`
	Slug          string    `json:"slug"`
	CompanyName   string    `json:"company_name"`
	ContactName   string    `json:"contact_name"`
	Email         string    `json:"email"`
	Tier          string    `json:"tier"`
	InitialTarget string    `json:"initial_target,omitempty"`
	Phone         string    `json:"phone,omitempty"`
	Industry      string    `json:"industry,omitempty"`
}

// Result of a completed onboarding.
type Result struct {
	TenantID       uuid.UUID `json:"tenant_id"`
	Status         string    `json:"status"`
	BaselineScanID uuid.UUID `json:"baseline_scan_id,omitempty"`
}

// Step names, in order.
const (
	StepTenant             = "tenant"
	StepStripeCustomer     = "stripe_customer"
	StepStripeSubscription = "stripe_subscription"
	StepOwner              = "owner_identity"
	StepDefectDojo         = "defectdojo_product"
	StepAPIKey             = "api_key"
	StepScanPolicy         = "scan_policy"
	StepWelcomeEmail       = "welcome_email"
	StepBaselineScan       = "baseline_scan"
	StepActivate           = "activate"
)

// Steps lists every step in the order they run.
var Steps = []string{
	StepTenant, StepStripeCustomer, StepStripeSubscription, StepOwner, StepDefectDojo,
	StepAPIKey, StepScanPolicy, StepWelcomeEmail, StepBaselineScan, StepActivate,
}

// Step states.
const (
	StatePending     = "pending"
	StateRunning     = "running"
	StateDone        = "done"
	StateSkipped     = "skipped"
	StateFailed      = "failed"
	StateCompensated = "compensated"
)

// Overall statuses.
const (
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Progress is the answer of the progress query.
type Progress struct {
	Status        string     `json:"status"`
	TenantID      uuid.UUID  `json:"tenant_id"`
	Steps         []Step     `json:"steps"`
	FailureReason string     `json:"failure_reason,omitempty"`
	StartedAt     time.Time  `json:"started_at"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
}

// Step is the state of one step.
type Step struct {
	Name       string     `json:"name"`
	State      string     `json:"state"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Error      *string    `json:"error"`
}

// RegisterOptions registers OnboardingWorkflow under its stable name.
func RegisterOptions() workflow.RegisterOptions { return workflow.RegisterOptions{Name: WorkflowName} }

// TestCodecKey is the payload codec key of recorded test histories
// (testdata/): public on purpose, never a deployment's key.
const TestCodecKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
