// Package defectdojo holds the activities that talk to a DefectDojo
// instance: during onboarding, the tenant's product and its compensation.
package defectdojo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/dojo"
	"github.com/secureops/secureops/internal/temporalx"
)

// Activities use Client; nil means DefectDojo is not configured and
// EnsureProduct answers Skipped.
type Activities struct {
	Client      *dojo.Client
	DB          *db.DB
	ProductType string
	// RetryWait is how long a retried re-import waits between looks at
	// DefectDojo's import history before it sends again (default 15 s).
	RetryWait time.Duration
}

var platform = db.Scope{PlatformAdmin: true}

// ProductName is the tenant's product in DefectDojo.
func ProductName(company string) string { return company + " Security" }

// EnsureProduct returns the tenant's product: the id stored on the tenant,
// else one found by name, else a new one tagged with the tenant's slug.
func (a *Activities) EnsureProduct(ctx context.Context, in onboarding.ProductInput) (onboarding.ProductResult, error) {
	if a.Client == nil {
		return onboarding.ProductResult{Skipped: true}, nil
	}
	var stored *int64
	err := a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		t, err := db.Q.TenantGet(ctx, tx, in.TenantID)
		stored = t.DefectdojoProductID
		return err
	})
	if err != nil {
		return onboarding.ProductResult{}, err
	}
	if stored != nil {
		return onboarding.ProductResult{ProductID: *stored}, nil
	}
	name := ProductName(in.CompanyName)
	p, err := a.Client.FindProduct(ctx, name)
	if err != nil {
		return onboarding.ProductResult{}, classify("find product", err)
	}
	if p == nil {
		pt, err := a.Client.EnsureProductType(ctx, a.ProductType)
		if err != nil {
			return onboarding.ProductResult{}, classify("product type", err)
		}
		created, err := a.Client.CreateProduct(ctx, dojo.Product{
			Name: name, ProdType: pt, Tags: []string{in.Slug},
			Description: fmt.Sprintf("Findings of SecureOps tenant %s (%s).", in.CompanyName, in.Slug),
		})
		if err != nil {
			return onboarding.ProductResult{}, classify("create product", err)
		}
		p = &created
	}
	id := p.ID
	err = a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.OnboardingTenantSetDefectDojo(ctx, tx, dbq.OnboardingTenantSetDefectDojoParams{ID: in.TenantID, DefectdojoProductID: &id})
	})
	return onboarding.ProductResult{ProductID: id}, err
}

// DeleteProduct removes the product (compensation): it is empty, since the
// tenant never became active, and leaving it would show a dead customer.
func (a *Activities) DeleteProduct(ctx context.Context, in onboarding.DeleteProductInput) error {
	if a.Client == nil || in.ProductID == 0 {
		return nil
	}
	if err := a.Client.DeleteProduct(ctx, in.ProductID); err != nil {
		return classify("delete product", err)
	}
	return a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.OnboardingTenantSetDefectDojo(ctx, tx, dbq.OnboardingTenantSetDefectDojoParams{ID: in.TenantID})
	})
}

func classify(what string, err error) error {
	var ae *dojo.APIError
	if errors.As(err, &ae) && !ae.Retryable() {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("defectdojo %s: status %d", what, ae.Status), scan.ErrDefectDojoRejected, err)
	}
	return err
}

// Register binds the activities to their names in the contracts: the
// product steps of onboarding and the scan's re-import.
func Register(reg temporalx.ActivityRegistry, a *Activities) {
	onboarding.EnsureProduct.Register(reg, a.EnsureProduct)
	onboarding.DeleteProduct.Register(reg, a.DeleteProduct)
	scan.Reimport.Register(reg, a.Reimport)
}
