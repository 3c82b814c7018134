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

	"github.com/secureops/secureops/internal/contract/maintenance"
	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/faults"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/tiers"
)

// Activities talk to Stripe; API nil means billing is not configured and
// the creates answer Skipped.
type Activities struct {
	API *client.API
	DB  *db.DB
	// PublicURL is where Checkout and the customer portal send people back.
	PublicURL string

	catalog catalogCache
}

var platform = db.Scope{PlatformAdmin: true}

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
func (a *Activities) CreateCustomer(ctx context.Context, in onboarding.CustomerInput) (onboarding.CustomerResult, error) {
	if a.API == nil {
		return onboarding.CustomerResult{Skipped: true}, nil
	}
	t, err := a.tenant(ctx, in.TenantID)
	if err != nil {
		return onboarding.CustomerResult{}, err
	}
	if t.StripeCustomerID != nil {
		return onboarding.CustomerResult{CustomerID: *t.StripeCustomerID}, nil
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
		return onboarding.CustomerResult{}, classify("create customer", err)
	}
	faults.PauseFor(faults.OnboardingStripeCustomer, in.TenantID.String())
	if err := a.store(ctx, in.TenantID, &c.ID, t.StripeSubscriptionID); err != nil {
		return onboarding.CustomerResult{}, err
	}
	return onboarding.CustomerResult{CustomerID: c.ID}, nil
}

// CreateSubscription starts the tier's subscription with a 14-day trial and
// no payment method: the card comes later through Stripe's billing portal,
// and a trial that ends without one pauses instead of failing a charge.
func (a *Activities) CreateSubscription(ctx context.Context, in onboarding.SubscriptionInput) (onboarding.SubscriptionResult, error) {
	if a.API == nil {
		return onboarding.SubscriptionResult{Skipped: true}, nil
	}
	tier, ok := tiers.Get(in.Tier)
	if !ok {
		return onboarding.SubscriptionResult{}, nonRetryable(onboarding.ErrInvalidRequest, "unknown tier "+in.Tier, nil)
	}
	t, err := a.tenant(ctx, in.TenantID)
	if err != nil {
		return onboarding.SubscriptionResult{}, err
	}
	if t.StripeSubscriptionID != nil {
		return onboarding.SubscriptionResult{SubscriptionID: *t.StripeSubscriptionID}, nil
	}
	cat, err := a.catalog.get(ctx, a.API)
	if err != nil {
		return onboarding.SubscriptionResult{}, classify("price catalogue", err)
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
		return onboarding.SubscriptionResult{}, classify("create subscription", err)
	}
	faults.PauseFor(faults.OnboardingStripeSubscription, in.TenantID.String())
	if err := a.store(ctx, in.TenantID, &in.CustomerID, &s.ID); err != nil {
		return onboarding.SubscriptionResult{}, err
	}
	return onboarding.SubscriptionResult{SubscriptionID: s.ID, Status: string(s.Status)}, nil
}

// CancelSubscription cancels at once (compensation). Already cancelled or
// gone counts as done.
func (a *Activities) CancelSubscription(ctx context.Context, in onboarding.CancelInput) error {
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
func (a *Activities) DeleteCustomer(ctx context.Context, in onboarding.CancelInput) error {
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

// Register binds the activities to their names in the contracts: the billing
// steps of onboarding and the catalogue warm-up of the maintenance Schedule.
func Register(reg temporalx.ActivityRegistry, a *Activities) {
	onboarding.CreateCustomer.Register(reg, a.CreateCustomer)
	onboarding.CreateSubscription.Register(reg, a.CreateSubscription)
	onboarding.CancelSubscription.Register(reg, a.CancelSubscription)
	onboarding.DeleteCustomer.Register(reg, a.DeleteCustomer)
	maintenance.WarmCatalog.Register(reg, a.WarmCatalog)
}
