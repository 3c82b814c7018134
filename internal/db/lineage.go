package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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
