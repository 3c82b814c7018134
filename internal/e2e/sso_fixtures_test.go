package e2e

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// enterprise moves the tenant to the enterprise tier (single sign-on).
func (f fixtures) enterprise(ten uuid.UUID) {
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE tenants SET tier = 'enterprise' WHERE id = $1`, ten)
		return err
	})
}

// ssoDomain is a verified email domain of the tenant (verifying it again
// looks nothing up).
func (f fixtures) ssoDomain(ten uuid.UUID) uuid.UUID {
	var id uuid.UUID
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO sso_domains (tenant_id, domain, token, status, verified_at)
			VALUES ($1, $2, 'fixture-token', 'verified', now()) RETURNING id`, ten, fmt.Sprintf("sso%d.example.net", next())).Scan(&id)
	})
	return id
}
