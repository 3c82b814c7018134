package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/findings"
)

// RecomputeSLA sets every open finding of the tenant's sla_due_at from its
// current SLA days (settings.sla_days over the defaults) in one set-based
// UPDATE, as findings.SLADue computes it; it returns the findings whose
// deadline moved. Call it in the transaction that changed the days.
func RecomputeSLA(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) (int64, error) {
	days := map[uuid.UUID]findings.SLADays{tenant: nil}
	if err := slaDaysOf(ctx, tx, days); err != nil {
		return 0, err
	}
	d := days[tenant]
	return Q.SLARecomputeTenant(ctx, tx, dbq.SLARecomputeTenantParams{
		TenantID: tenant,
		Critical: int32(d[findings.SeverityCritical]), High: int32(d[findings.SeverityHigh]),
		Medium: int32(d[findings.SeverityMedium]), Low: int32(d[findings.SeverityLow]),
	})
}
