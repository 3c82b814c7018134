package store

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/contract/schedule"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// scheduledScanNS keys the scan ids of scheduled runs.
var scheduledScanNS = uuid.MustParse("6c1f0a52-3f0e-4a0b-9a53-8f7f2b0d9e11")

// ScheduledScanCreate records the scan of one scheduled run.
func (a *Activities) ScheduledScanCreate(ctx context.Context, in schedule.ScanInput) (schedule.Scan, error) {
	id := uuid.NewSHA1(scheduledScanNS, []byte(in.RunKey))
	var out schedule.Scan
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		sch, err := db.Q.ScheduleGet(ctx, tx, in.ScheduleID)
		if errors.Is(err, pgx.ErrNoRows) {
			return temporal.NewNonRetryableApplicationError("schedule "+in.ScheduleID.String()+" was deleted", schedule.ErrScheduleGone, err)
		}
		if err != nil {
			return err
		}
		// The tenant-schedules sync pauses these; this is the backstop for
		// a sync that has not run (or a tenant whose onboarding failed).
		blocked, err := db.Q.TenantChainBlocked(ctx, tx, in.TenantID)
		if err != nil {
			return err
		}
		if blocked {
			return temporal.NewNonRetryableApplicationError("the tenant is not active; scheduled scans are paused", schedule.ErrScheduleGone, nil)
		}
		if hold, err := db.Q.BillingHold(ctx, tx, in.TenantID); err != nil || hold != "" {
			if err != nil {
				return err
			}
			return temporal.NewNonRetryableApplicationError("the tenant's billing is "+hold+"; scheduled scans are paused", schedule.ErrScheduleGone, nil)
		}
		t, err := db.Q.TargetGet(ctx, tx, sch.TargetID)
		if err != nil {
			return err
		}
		row, err := db.Q.ScanCreateScheduled(ctx, tx, dbq.ScanCreateScheduledParams{
			ID: id, TenantID: in.TenantID, Target: t.Value, Scanners: sch.Scanners, WorkflowID: scan.WorkflowID(id),
			TargetID: uuid.NullUUID{UUID: t.ID, Valid: true}, ScheduleID: uuid.NullUUID{UUID: sch.ID, Valid: true},
		})
		if err != nil {
			return err
		}
		out = schedule.Scan{ScanID: row.ID, Target: row.Target, Scanners: row.Scanners}
		return nil
	})
	return out, err
}
