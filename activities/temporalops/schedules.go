package temporalops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"

	"github.com/secureops/secureops/internal/contract/schedule"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/schedsync"
)

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
		err := a.syncer().SetPaused(ctx, r.ID, r.Paused || r.Blocked, note)
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

// Ensure creates the schedule (or finds the identical one) and its Temporal
// Schedule; onboarding uses it for the initial target's weekly scan. The
// Temporal side is applied inside the transaction, so a failure leaves no
// half-made schedule and a retry converges.
func (a *Activities) Ensure(ctx context.Context, in schedule.EnsureInput) (uuid.UUID, error) {
	var id uuid.UUID
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		t, err := db.Q.TargetGet(ctx, tx, in.TargetID)
		if err != nil {
			return err
		}
		row, err := db.Q.ScheduleUpsert(ctx, tx, dbq.ScheduleUpsertParams{
			TenantID: in.TenantID, TargetID: in.TargetID, Scanners: in.Scanners,
			IntervalSeconds: int32(in.Interval / time.Second), Timezone: "UTC", Description: in.Description,
		})
		if err != nil {
			return err
		}
		id = row.ID
		return a.syncer().Apply(ctx, schedsync.Spec{ScheduleID: row.ID, TenantID: in.TenantID, Target: t.Value,
			Interval: in.Interval, TimeZone: "UTC", Paused: row.Paused})
	})
	return id, err
}
