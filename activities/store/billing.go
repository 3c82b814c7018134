package store

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/tiers"
)

// Billing holds the billing cycle's Postgres activities
// (internal/contract/billing).
type Billing struct {
	DB *db.DB
}

// RegisterBilling binds the billing cycle's Postgres activities.
func RegisterBilling(reg temporalx.ActivityRegistry, b *Billing) {
	billing.LoadAccount.Register(reg, b.LoadAccount)
	billing.SaveState.Register(reg, b.SaveState)
	billing.ApplyTier.Register(reg, b.ApplyTier)
	billing.DeleteData.Register(reg, b.DeleteTenant)
}

// LoadAccount reads the tenant's slug, tier and Stripe ids.
func (b *Billing) LoadAccount(ctx context.Context, in billing.TenantInput) (billing.Account, error) {
	var acct billing.Account
	err := b.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		row, err := db.Q.BillingAccount(ctx, tx, in.TenantID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		acct = billing.Account{Found: true, Slug: row.Slug, Tier: row.Tier, Status: row.Status}
		if row.StripeCustomerID != nil {
			acct.CustomerID = *row.StripeCustomerID
		}
		if row.StripeSubscriptionID != nil {
			acct.SubscriptionID = *row.StripeSubscriptionID
		}
		saved, err := db.Q.BillingStateGet(ctx, tx, in.TenantID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		var st billing.State
		if json.Unmarshal(saved.State, &st) == nil && st.TenantID == in.TenantID && st.Status != "" {
			acct.Saved = &st
		}
		return nil
	})
	return acct, err
}

// SaveState writes the cycle's state to tenant_billing; an older version
// (a retry that lost a race with a newer write) changes nothing.
func (b *Billing) SaveState(ctx context.Context, in billing.SaveInput) error {
	doc, err := json.Marshal(in.State)
	if err != nil {
		return err
	}
	return b.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := db.Q.TenantGet(ctx, tx, in.State.TenantID); errors.Is(err, pgx.ErrNoRows) {
			return nil // deleted meanwhile
		}
		return db.Q.BillingStateUpsert(ctx, tx, dbq.BillingStateUpsertParams{
			TenantID: in.State.TenantID, Status: in.State.Status, Plan: in.State.Plan, State: doc, Version: in.Version,
		})
	})
}

// ApplyTier makes the plan Stripe confirmed the tenant's tier: the scan
// gate's concurrency (by tier) and the scan policy's scanners follow it.
func (b *Billing) ApplyTier(ctx context.Context, in billing.TierInput) error {
	t, ok := tiers.Get(in.Plan)
	if !ok {
		return temporal.NewNonRetryableApplicationError("unknown plan "+in.Plan, billing.ErrUnknownPlan, nil)
	}
	return b.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.BillingTierSet(ctx, tx, dbq.BillingTierSetParams{ID: in.TenantID, Tier: t.Name}); err != nil {
			return err
		}
		return db.Q.BillingPolicyTierSet(ctx, tx, dbq.BillingPolicyTierSetParams{
			TenantID: in.TenantID, Tier: t.Name, Scanners: t.Scanners, MaxConcurrentScans: int32(t.MaxConcurrentScans),
		})
	})
}

// DeleteTenant deletes a cancelled tenant and, by cascade, its data. A
// tenant that is active again (an operator resumed it), or that has
// sub-tenants, is kept: the answer says why.
func (b *Billing) DeleteTenant(ctx context.Context, in billing.TenantInput) (string, error) {
	out := "deleted"
	err := b.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		st, err := db.Q.BillingStateGet(ctx, tx, in.TenantID)
		if errors.Is(err, pgx.ErrNoRows) {
			out = "gone already"
			return nil
		}
		if err != nil {
			return err
		}
		if st.Status != billing.StatusCancelled {
			out = "kept: its billing is " + st.Status
			return nil
		}
		n, err := db.Q.BillingDeleteTenant(ctx, tx, in.TenantID)
		if err != nil {
			return err
		}
		if n == 0 {
			out = "kept: it has sub-tenants"
		}
		return nil
	})
	return out, err
}
