// Package stripe holds the onboarding activities that talk to Stripe: the
// customer, the trial subscription and their compensations. Every create is
// looked up in Postgres first (the ids are stored on the tenant) and sent
// with a business idempotency key, so neither a retry nor a reset from the
// Web UI makes a second customer or subscription.
package stripe

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/tiers"
)

// Activity names.
const (
	CreateCustomerName     = "stripe.CreateCustomer"
	CreateSubscriptionName = "stripe.CreateSubscription"
	CancelSubscriptionName = "stripe.CancelSubscription"
	DeleteCustomerName     = "stripe.DeleteCustomer"
)

// Activities talk to Stripe; API nil means billing is not configured and
// the creates answer Skipped.
type Activities struct {
	API *client.API
	DB  *db.DB

	catalog catalogCache
}

var platform = db.Scope{PlatformAdmin: true}

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

// IdempotencyKey is the business key of a Stripe create for a tenant. A
// failed onboarding started again is a new attempt: Stripe would otherwise
// replay the first attempt's answer for 24 h (an object since deleted).
func IdempotencyKey(kind string, tenant uuid.UUID, attempt int) string {
	k := "stripe/" + kind + "/" + tenant.String()
	if attempt > 1 {
		k += fmt.Sprintf("/attempt-%d", attempt)
	}
	return k
}

func (a *Activities) tenant(ctx context.Context, id uuid.UUID) (dbq.Tenant, error) {
	var t dbq.Tenant
	err := a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		t, err = db.Q.TenantGet(ctx, tx, id)
		return err
	})
	return t, err
}

func (a *Activities) store(ctx context.Context, id uuid.UUID, customer, sub *string) error {
	return a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.OnboardingTenantSetStripe(ctx, tx, dbq.OnboardingTenantSetStripeParams{ID: id, StripeCustomerID: customer, StripeSubscriptionID: sub})
	})
}

// CreateCustomer returns the tenant's customer, creating it once.
func (a *Activities) CreateCustomer(ctx context.Context, in CustomerInput) (CustomerResult, error) {
	if a.API == nil {
		return CustomerResult{Skipped: true}, nil
	}
	t, err := a.tenant(ctx, in.TenantID)
	if err != nil {
		return CustomerResult{}, err
	}
	if t.StripeCustomerID != nil {
		return CustomerResult{CustomerID: *t.StripeCustomerID}, nil
	}
	p := &stripego.CustomerParams{
		Name:  stripego.String(in.CompanyName),
		Email: stripego.String(in.Email),
		Metadata: map[string]string{
			"secureops_tenant_id": in.TenantID.String(), "secureops_tenant_slug": t.Slug, "contact_name": in.ContactName,
		},
	}
	if in.Phone != "" {
		p.Phone = stripego.String(in.Phone)
	}
	p.Context = ctx
	p.SetIdempotencyKey(IdempotencyKey("customer", in.TenantID, in.Attempt))
	c, err := a.API.Customers.New(p)
	if err != nil {
		return CustomerResult{}, classify("create customer", err)
	}
	if err := a.store(ctx, in.TenantID, &c.ID, t.StripeSubscriptionID); err != nil {
		return CustomerResult{}, err
	}
	return CustomerResult{CustomerID: c.ID}, nil
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

// CreateSubscription starts the tier's subscription with a 14-day trial and
// no payment method: the card comes later through Stripe's billing portal,
// and a trial that ends without one pauses instead of failing a charge.
func (a *Activities) CreateSubscription(ctx context.Context, in SubscriptionInput) (SubscriptionResult, error) {
	if a.API == nil {
		return SubscriptionResult{Skipped: true}, nil
	}
	tier, ok := tiers.Get(in.Tier)
	if !ok {
		return SubscriptionResult{}, nonRetryable(ErrInvalidRequest, "unknown tier "+in.Tier, nil)
	}
	t, err := a.tenant(ctx, in.TenantID)
	if err != nil {
		return SubscriptionResult{}, err
	}
	if t.StripeSubscriptionID != nil {
		return SubscriptionResult{SubscriptionID: *t.StripeSubscriptionID}, nil
	}
	cat, err := a.catalog.get(ctx, a.API)
	if err != nil {
		return SubscriptionResult{}, classify("price catalogue", err)
	}
	p := &stripego.SubscriptionParams{
		Customer: stripego.String(in.CustomerID),
		Items: []*stripego.SubscriptionItemsParams{
			{Price: stripego.String(cat[tier.PriceLookupKey])},
			{Price: stripego.String(cat[tiers.ScansMeteredLookupKey])},
		},
		TrialPeriodDays: stripego.Int64(tiers.TrialDays),
		PaymentBehavior: stripego.String("default_incomplete"),
		PaymentSettings: &stripego.SubscriptionPaymentSettingsParams{
			SaveDefaultPaymentMethod: stripego.String("on_subscription"),
		},
		TrialSettings: &stripego.SubscriptionTrialSettingsParams{
			EndBehavior: &stripego.SubscriptionTrialSettingsEndBehaviorParams{MissingPaymentMethod: stripego.String("pause")},
		},
		Metadata: map[string]string{"secureops_tenant_id": in.TenantID.String(), "secureops_tier": tier.Name},
	}
	p.Context = ctx
	p.SetIdempotencyKey(IdempotencyKey("subscription", in.TenantID, in.Attempt))
	s, err := a.API.Subscriptions.New(p)
	if err != nil {
		return SubscriptionResult{}, classify("create subscription", err)
	}
	if err := a.store(ctx, in.TenantID, &in.CustomerID, &s.ID); err != nil {
		return SubscriptionResult{}, err
	}
	return SubscriptionResult{SubscriptionID: s.ID, Status: string(s.Status)}, nil
}

// CancelInput names what a compensation cancels or deletes.
type CancelInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ID       string    `json:"id"`
}

// CancelSubscription cancels at once (compensation). Already cancelled or
// gone counts as done.
func (a *Activities) CancelSubscription(ctx context.Context, in CancelInput) error {
	if a.API == nil || in.ID == "" {
		return nil
	}
	p := &stripego.SubscriptionCancelParams{}
	p.Context = ctx
	if _, err := a.API.Subscriptions.Cancel(in.ID, p); err != nil && !gone(err) {
		return classify("cancel subscription", err)
	}
	t, err := a.tenant(ctx, in.TenantID)
	if err != nil {
		return err
	}
	return a.store(ctx, in.TenantID, t.StripeCustomerID, nil)
}

// DeleteCustomer deletes the customer (compensation): nothing was charged
// during a failed onboarding, and a later attempt makes a new one.
func (a *Activities) DeleteCustomer(ctx context.Context, in CancelInput) error {
	if a.API == nil || in.ID == "" {
		return nil
	}
	p := &stripego.CustomerParams{}
	p.Context = ctx
	if _, err := a.API.Customers.Del(in.ID, p); err != nil && !gone(err) {
		return classify("delete customer", err)
	}
	return a.store(ctx, in.TenantID, nil, nil)
}

func gone(err error) bool {
	var se *stripego.Error
	return errors.As(err, &se) && (se.HTTPStatusCode == 404 || se.Code == stripego.ErrorCodeResourceMissing)
}
