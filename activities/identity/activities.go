// Package identity holds the onboarding activities that talk to Kratos: the
// owner's identity (looked up by email before it is created), their user row
// and client_owner membership, the recovery link, and the compensation.
package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/faults"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/temporalx"
)

// Activities administer identities through Kratos' admin API.
type Activities struct {
	Kratos *kratos.Client
	DB     *db.DB
}

var platform = db.Scope{PlatformAdmin: true}

// EnsureOwner finds or creates the identity (traits email and name,
// metadata_public.tenant_id), records the user and the client_owner
// membership. The recovery code to set a password with is made when the
// welcome email is sent (email.SendWelcome), never kept in history.
func (a *Activities) EnsureOwner(ctx context.Context, in onboarding.OwnerInput) (onboarding.OwnerResult, error) {
	if a.Kratos == nil {
		return onboarding.OwnerResult{}, temporal.NewNonRetryableApplicationError("Kratos is not configured (KRATOS_PUBLIC_URL, KRATOS_ADMIN_URL)", onboarding.ErrNotConfigured, nil)
	}
	ident, err := a.Kratos.EnsureIdentity(ctx, in.Email, in.Name, "", map[string]any{"tenant_id": in.TenantID.String()})
	var inv *kratos.InvalidError
	if errors.As(err, &inv) {
		return onboarding.OwnerResult{}, temporal.NewNonRetryableApplicationError("the identity service rejected the email address", onboarding.ErrIdentityRejected, err)
	}
	if err != nil {
		return onboarding.OwnerResult{}, err
	}
	faults.PauseFor(faults.OnboardingIdentity, in.TenantID.String())
	err = a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: ident.ID, Email: ident.Email, Name: in.Name}); err != nil {
			return err
		}
		if _, err := db.Q.MembershipGet(ctx, tx, dbq.MembershipGetParams{UserID: ident.ID, TenantID: in.TenantID}); err == nil {
			return nil // a retry or a reset: already recorded and audited
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: ident.ID, TenantID: in.TenantID, Role: string(auth.RoleClientOwner)}); err != nil {
			return err
		}
		b, _ := json.Marshal(map[string]any{"via": "onboarding"})
		return db.Q.AuditInsert(ctx, tx, dbq.AuditInsertParams{
			TenantID: in.TenantID, Action: "user.owner_assigned", TargetType: "user", TargetID: ident.ID.String(),
			Details: b, RequestID: "onboarding",
		})
	})
	if err != nil {
		return onboarding.OwnerResult{}, err
	}
	return onboarding.OwnerResult{IdentityID: ident.ID}, nil
}

// RemoveOwner undoes EnsureOwner: the membership goes, and the identity and
// user row too when this onboarding created them (metadata_public.tenant_id
// names this tenant) and they belong to no other tenant.
func (a *Activities) RemoveOwner(ctx context.Context, in onboarding.RemoveInput) error {
	var others bool
	err := a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := db.Q.MembershipDelete(ctx, tx, dbq.MembershipDeleteParams{UserID: in.IdentityID, TenantID: in.TenantID}); err != nil {
			return err
		}
		n, err := db.Q.OnboardingUserMembershipCount(ctx, tx, in.IdentityID)
		if err != nil {
			return err
		}
		if others = n > 0; !others {
			return db.Q.OnboardingUserDeleteIfOrphan(ctx, tx, in.IdentityID)
		}
		return nil
	})
	if err != nil || others || a.Kratos == nil {
		return err
	}
	tenant, found, err := a.Kratos.IdentityTenant(ctx, in.IdentityID)
	if err != nil || !found {
		return err
	}
	if tenant != in.TenantID.String() {
		return nil // not ours: it existed before this onboarding
	}
	if err := a.Kratos.DeleteIdentity(ctx, in.IdentityID); err != nil {
		return fmt.Errorf("kratos delete identity: %w", err)
	}
	return nil
}

// Register binds the activities to their names in internal/contract/onboarding.
func Register(reg temporalx.ActivityRegistry, a *Activities) {
	onboarding.EnsureOwner.Register(reg, a.EnsureOwner)
	onboarding.RemoveOwner.Register(reg, a.RemoveOwner)
}
