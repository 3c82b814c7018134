// Package defectdojo holds the activities that talk to a DefectDojo
// instance: during onboarding, the tenant's product and its compensation.
package defectdojo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	dojo "github.com/secureops/secureops/internal/defectdojo"
)

// Activity names.
const (
	EnsureProductName = "defectdojo.EnsureProduct"
	DeleteProductName = "defectdojo.DeleteProduct"
)

// ErrRejected is the non-retryable type of a request DefectDojo refuses.
const ErrRejected = "DefectDojoRejected"

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

// ProductName is the tenant's product in DefectDojo.
func ProductName(company string) string { return company + " Security" }

// EnsureProduct returns the tenant's product: the id stored on the tenant,
// else one found by name, else a new one tagged with the tenant's slug.
func (a *Activities) EnsureProduct(ctx context.Context, in ProductInput) (ProductResult, error) {
	if a.Client == nil {
		return ProductResult{Skipped: true}, nil
	}
	var stored *int64
	err := a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		t, err := db.Q.TenantGet(ctx, tx, in.TenantID)
		stored = t.DefectdojoProductID
		return err
	})
	if err != nil {
		return ProductResult{}, err
	}
	if stored != nil {
		return ProductResult{ProductID: *stored}, nil
	}
	name := ProductName(in.CompanyName)
	p, err := a.Client.FindProduct(ctx, name)
	if err != nil {
		return ProductResult{}, classify("find product", err)
	}
	if p == nil {
		pt, err := a.Client.EnsureProductType(ctx, a.ProductType)
		if err != nil {
			return ProductResult{}, classify("product type", err)
		}
		created, err := a.Client.CreateProduct(ctx, dojo.Product{
			Name: name, ProdType: pt, Tags: []string{in.Slug},
			Description: fmt.Sprintf("Findings of SecureOps tenant %s (%s).", in.CompanyName, in.Slug),
		})
		if err != nil {
			return ProductResult{}, classify("create product", err)
		}
		p = &created
	}
	id := p.ID
	err = a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.OnboardingTenantSetDefectDojo(ctx, tx, dbq.OnboardingTenantSetDefectDojoParams{ID: in.TenantID, DefectdojoProductID: &id})
	})
	return ProductResult{ProductID: id}, err
}

// DeleteInput names the product to delete.
type DeleteInput struct {
	TenantID  uuid.UUID `json:"tenant_id"`
	ProductID int64     `json:"product_id"`
}

// DeleteProduct removes the product (compensation): it is empty, since the
// tenant never became active, and leaving it would show a dead customer.
func (a *Activities) DeleteProduct(ctx context.Context, in DeleteInput) error {
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
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("defectdojo %s: status %d", what, ae.Status), ErrRejected, err)
	}
	return err
}
