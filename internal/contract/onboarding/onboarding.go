// Package onboarding is the contract of the Onboarding workflow
// (workflows/onboardingflow): a company's sign-up taken to an active tenant
// with a subscription, an owner, an API key, a scan policy and a welcome
// email, or, when a step fails for good, undone step by step and left failed
// with the reason. It holds what the API needs to start and follow a
// sign-up, and the typed references of the activities the workflow calls.
package onboarding

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/temporalx"
)

// WorkflowName is the registered name.
const WorkflowName = "Onboarding"

// Workflow is the typed reference of the workflow.
var Workflow = temporalx.NewWorkflow[Input, Result](WorkflowName)

// QueryProgress returns the Progress of an onboarding.
const QueryProgress = "progress"

// Kind is the Kind search attribute of onboarding workflows.
const Kind = "onboarding"

// WorkflowID is one onboarding per tenant slug, ever: the slug is what a
// second sign-up for the same company collides on.
func WorkflowID(slug string) string { return "onboarding/" + slug }

// StartOptions start a sign-up's onboarding: one per slug, ever, so a second
// start is refused rather than run twice.
func StartOptions(in Input) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       WorkflowID(in.Slug),
		TaskQueue:                temporalx.QueueOnboarding,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(in.TenantID.String()),
			temporalx.SAKind.ValueSet(Kind),
		),
	}
}

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
	// Scanners are the tier's scanners this deployment has installed,
	// chosen at sign-up (tiers.Tier.Offered); empty in onboardings started
	// before, which use the tier's whole list.
	Scanners []string `json:"scanners,omitempty"`
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

// TestCodecKey is the payload codec key of recorded test histories
// (testdata/): public on purpose, never a deployment's key.
const TestCodecKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// BaselineScanID is the first scan's id: derived from the tenant, so a
// reset run finds the scan the first run started instead of starting another.
func BaselineScanID(tenant uuid.UUID) uuid.UUID {
	return uuid.NewSHA1(tenant, []byte("secureops/baseline-scan"))
}

// Error types an onboarding's activities fail with, and the one a failed
// onboarding ends with.
const (
	ErrOnboardingFailed = "OnboardingFailed"
	ErrSlugTaken        = "SlugTaken"
	// ErrNotConfigured: a step this deployment cannot run (a key missing
	// from its configuration).
	ErrNotConfigured   = "NotConfigured"
	ErrInvalidArgument = scan.ErrInvalidArgument
	// Stripe refusals.
	ErrCardDeclined   = "CardDeclined"
	ErrInvalidRequest = "StripeInvalidRequest"
	ErrAuthentication = "StripeAuthentication"
	// ErrIdentityRejected: Kratos refused the owner's identity.
	ErrIdentityRejected = "IdentityRejected"
	// ErrDefectDojoRejected: DefectDojo refused the product (the scan's
	// re-import fails with the same type).
	ErrDefectDojoRejected = scan.ErrDefectDojoRejected
	// ErrEmailRejected: the email provider refused the message (the scan's
	// emails fail with the same type).
	ErrEmailRejected = notify.ErrEmailRejected
)

// UserFacing lists the error types whose message may be shown to the person
// signing up; anything else may carry internals and stays in the history.
var UserFacing = map[string]bool{
	ErrCardDeclined: true, ErrIdentityRejected: true, ErrEmailRejected: true, ErrSlugTaken: true,
}

// Activities the Onboarding workflow calls, by the system they change.
var (
	// Postgres (activities/store).
	ReserveTenant       = temporalx.NewActivity[ReserveInput, ReserveResult]("store.ReserveTenant")
	CreateInitialAPIKey = temporalx.NewActivity[KeyInput, KeyResult]("store.CreateInitialAPIKey")
	RevokeInitialAPIKey = temporalx.NewAction[RevokeKeyInput]("store.RevokeInitialAPIKey")
	RecordScanPolicy    = temporalx.NewAction[PolicyInput]("store.RecordScanPolicy")
	DeleteScanPolicy    = temporalx.NewAction[TenantInput]("store.DeleteScanPolicy")
	CreateBaselineScan  = temporalx.NewActivity[BaselineInput, BaselineResult]("store.CreateBaselineScan")
	ActivateTenant      = temporalx.NewActivity[TenantInput, string]("store.ActivateTenant")
	FailTenant          = temporalx.NewAction[FailInput]("store.FailTenant")
	// Stripe (activities/stripe).
	CreateCustomer     = temporalx.NewActivity[CustomerInput, CustomerResult]("stripe.CreateCustomer")
	CreateSubscription = temporalx.NewActivity[SubscriptionInput, SubscriptionResult]("stripe.CreateSubscription")
	CancelSubscription = temporalx.NewAction[CancelInput]("stripe.CancelSubscription")
	DeleteCustomer     = temporalx.NewAction[CancelInput]("stripe.DeleteCustomer")
	// Kratos (activities/identity).
	EnsureOwner = temporalx.NewActivity[OwnerInput, OwnerResult]("identity.EnsureOwner")
	RemoveOwner = temporalx.NewAction[RemoveInput]("identity.RemoveOwner")
	// DefectDojo (activities/defectdojo).
	EnsureProduct = temporalx.NewActivity[ProductInput, ProductResult]("defectdojo.EnsureProduct")
	DeleteProduct = temporalx.NewAction[DeleteProductInput]("defectdojo.DeleteProduct")
	// Email (activities/email); both return the provider's message id.
	SendWelcome = temporalx.NewActivity[WelcomeInput, string]("email.SendWelcome")
	NotifyOps   = temporalx.NewActivity[OpsInput, string]("email.NotifyOps")
)

// ReserveInput describes the tenant to reserve.
type ReserveInput struct {
	TenantID    uuid.UUID `json:"tenant_id"`
	Slug        string    `json:"slug"`
	CompanyName string    `json:"company_name"`
	Tier        string    `json:"tier"`
	ContactName string    `json:"contact_name"`
	Phone       string    `json:"phone,omitempty"`
	Industry    string    `json:"industry,omitempty"`
}

// ReserveResult is the reserved tenant.
type ReserveResult struct {
	Status  string `json:"status"`
	Attempt int    `json:"attempt"`
}

// KeyInput names the tenant whose first key is made.
type KeyInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// KeyResult names the key (never its secret).
type KeyResult struct {
	APIKeyID uuid.UUID `json:"api_key_id"`
	Prefix   string    `json:"prefix"`
}

// RevokeKeyInput names the key to revoke.
type RevokeKeyInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	APIKeyID uuid.UUID `json:"api_key_id"`
}

// PolicyInput is the default scan policy to record.
type PolicyInput struct {
	TenantID      uuid.UUID `json:"tenant_id"`
	Tier          string    `json:"tier"`
	InitialTarget string    `json:"initial_target,omitempty"`
	// Scanners the policy allows (Input.Scanners); empty: the tier's.
	Scanners []string `json:"scanners,omitempty"`
}

// TenantInput names a tenant.
type TenantInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// BaselineInput is the first scan's row.
type BaselineInput struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	ScanID     uuid.UUID `json:"scan_id"`
	Target     string    `json:"target"`
	Scanners   []string  `json:"scanners"`
	WorkflowID string    `json:"workflow_id"`
}

// BaselineResult says whether the first scan can run.
type BaselineResult struct {
	TargetID uuid.UUID `json:"target_id"`
	// NeedsVerification: the target is registered but its ownership is not
	// proven yet, so no scan row was made. (Its zero value keeps histories
	// recorded before targets existed replaying as they ran.)
	NeedsVerification bool `json:"needs_verification,omitempty"`
}

// FailInput records why an onboarding failed.
type FailInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Reason   string    `json:"reason"`
}

// CustomerInput creates the tenant's customer.
type CustomerInput struct {
	TenantID    uuid.UUID `json:"tenant_id"`
	Attempt     int       `json:"attempt"`
	CompanyName string    `json:"company_name"`
	ContactName string    `json:"contact_name"`
	Email       string    `json:"email"`
	Phone       string    `json:"phone,omitempty"`
}

// CustomerResult names the customer.
type CustomerResult struct {
	CustomerID string `json:"customer_id,omitempty"`
	Skipped    bool   `json:"skipped,omitempty"`
}

// SubscriptionInput subscribes the customer to its tier.
type SubscriptionInput struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	Attempt    int       `json:"attempt"`
	CustomerID string    `json:"customer_id"`
	Tier       string    `json:"tier"`
}

// SubscriptionResult names the subscription.
type SubscriptionResult struct {
	SubscriptionID string `json:"subscription_id,omitempty"`
	Status         string `json:"status,omitempty"`
	Skipped        bool   `json:"skipped,omitempty"`
}

// CancelInput names what a compensation cancels or deletes.
type CancelInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ID       string    `json:"id"`
}

// OwnerInput names the owner of a new tenant.
type OwnerInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Email    string    `json:"email"`
	Name     string    `json:"name"`
}

// OwnerResult is the owner's identity. The way in (a recovery code) is not
// part of it: results are kept in workflow history, which operators read, so
// the welcome email's activity asks Kratos for the code when it sends.
type OwnerResult struct {
	IdentityID uuid.UUID `json:"identity_id"`
}

// RecoveryValidity is how long the welcome email's recovery link works.
const RecoveryValidity = 72 * time.Hour

// RemoveInput names the owner to remove.
type RemoveInput struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	IdentityID uuid.UUID `json:"identity_id"`
}

// ProductInput names the tenant's product.
type ProductInput struct {
	TenantID    uuid.UUID `json:"tenant_id"`
	Slug        string    `json:"slug"`
	CompanyName string    `json:"company_name"`
}

// ProductResult is the product, or Skipped without DefectDojo.
type ProductResult struct {
	ProductID int64 `json:"product_id,omitempty"`
	Skipped   bool  `json:"skipped,omitempty"`
}

// DeleteProductInput names the product to delete.
type DeleteProductInput struct {
	TenantID  uuid.UUID `json:"tenant_id"`
	ProductID int64     `json:"product_id"`
}

// WelcomeInput is what the welcome email says.
type WelcomeInput struct {
	TenantID    uuid.UUID `json:"tenant_id"`
	To          string    `json:"to"`
	ContactName string    `json:"contact_name"`
	CompanyName string    `json:"company_name"`
	Tier        string    `json:"tier"`
	// OwnerID is the Kratos identity the email's recovery code is for.
	OwnerID       uuid.UUID `json:"owner_id"`
	InitialTarget string    `json:"initial_target,omitempty"`
	TrialDays     int       `json:"trial_days"`
	Attempt       int       `json:"attempt"`
}

// OpsInput is an internal notification about an onboarding.
type OpsInput struct {
	TenantID    uuid.UUID `json:"tenant_id"`
	Slug        string    `json:"slug"`
	CompanyName string    `json:"company_name"`
	Tier        string    `json:"tier"`
	Event       string    `json:"event"` // activated, failed
	Attempt     int       `json:"attempt"`
	Reason      string    `json:"reason,omitempty"`
	WorkflowID  string    `json:"workflow_id"`
}
