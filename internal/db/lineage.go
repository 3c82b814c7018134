package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/secureops/secureops/internal/targets"
)

// TenantLineage returns the slugs of a tenant and its ancestors, nearest
// first. It reads across the tenant tree, which a tenant's own scope cannot
// see upwards, so it runs with the platform's scope and returns only slugs.
func (d *DB) TenantLineage(ctx context.Context, tenantID uuid.UUID) ([]string, error) {
	var slugs []string
	err := d.InTx(ctx, Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		slugs, err = Q.TenantLineageSlugs(ctx, tx, tenantID)
		return err
	})
	return slugs, err
}

// TenantPolicy is p for scans of tenant: the platform's ranges plus those
// SCAN_ALLOWED_CIDRS opens to the tenant or an ancestor. Without per-tenant
// ranges it is p, and no query runs.
func (d *DB) TenantPolicy(ctx context.Context, p targets.Policy, tenant uuid.UUID) (targets.Policy, error) {
	if len(p.TenantAllowed) == 0 {
		return p, nil
	}
	slugs, err := d.TenantLineage(ctx, tenant)
	if err != nil {
		return targets.Policy{}, err
	}
	return p.ForTenant(slugs...), nil
}
