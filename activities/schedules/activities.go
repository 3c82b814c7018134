// Package schedules holds the activities that keep Temporal Schedules in
// line with the database.
package schedules

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/schedules"
)

// SyncTenantName is the registered name of SyncTenant.
const SyncTenantName = "schedules.SyncTenant"

// Activities needs the database and a schedule syncer.
type Activities struct {
	DB     *db.DB
	Syncer schedules.Syncer
}

// SyncTenant pauses the schedules of a suspended tenant subtree and resumes
// the others (except those their owner paused). It reads the current status,
// so running it twice, or late, converges on the truth.
func (a *Activities) SyncTenant(ctx context.Context, tenantID uuid.UUID) (int, error) {
	var rows []dbq.SchedulesOfTenantTreeRow
	err := a.DB.InTx(ctx, db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		rows, err = db.Q.SchedulesOfTenantTree(ctx, tx, tenantID)
		return err
	})
	if err != nil {
		return 0, err
	}
	for i, r := range rows {
		note := "resumed"
		if r.Blocked {
			note = "paused: the tenant is suspended"
		} else if r.Paused {
			note = "paused by the tenant"
		}
		err := a.Syncer.SetPaused(ctx, r.ID, r.Paused || r.Blocked, note)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			continue // never reached Temporal; the next apply from the API creates it paused right
		}
		if err != nil {
			return i, fmt.Errorf("schedule %s: %w", r.ID, err)
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, i)
		}
	}
	return len(rows), nil
}
