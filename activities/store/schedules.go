package store

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// ScheduledScanCreateName is the registered name of ScheduledScanCreate.
const ScheduledScanCreateName = "store.ScheduledScanCreate"

// ErrScheduleGone is the non-retryable type of a run whose schedule was
// deleted, or whose tenant may not scan (suspended, cancelled, failed): the
// failed run pauses the schedule.
const ErrScheduleGone = "ScheduleGone"

// scheduledScanNS keys the scan ids of scheduled runs.
var scheduledScanNS = uuid.MustParse("6c1f0a52-3f0e-4a0b-9a53-8f7f2b0d9e11")

// ScheduledScanInput is one run of a schedule.
type ScheduledScanInput struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	ScheduleID uuid.UUID `json:"schedule_id"`
	// RunKey is the run's workflow id (unique per scheduled time): the scan
	// id is derived from it, so a retry or a reset finds the same scan.
	RunKey string `json:"run_key"`
}

// ScheduledScan is the scan a run created.
type ScheduledScan struct {
	ScanID   uuid.UUID `json:"scan_id"`
	Target   string    `json:"target"`
	Scanners []string  `json:"scanners"`
}

// ScheduledScanCreate records the scan of one scheduled run.
func (a *Activities) ScheduledScanCreate(ctx context.Context, in ScheduledScanInput) (ScheduledScan, error) {
	id := uuid.NewSHA1(scheduledScanNS, []byte(in.RunKey))
	var out ScheduledScan
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		sch, err := db.Q.ScheduleGet(ctx, tx, in.ScheduleID)
		if errors.Is(err, pgx.ErrNoRows) {
			return temporal.NewNonRetryableApplicationError("schedule "+in.ScheduleID.String()+" was deleted", ErrScheduleGone, err)
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
			return temporal.NewNonRetryableApplicationError("the tenant is not active; scheduled scans are paused", ErrScheduleGone, nil)
		}
		t, err := db.Q.TargetGet(ctx, tx, sch.TargetID)
		if err != nil {
			return err
		}
		row, err := db.Q.ScanCreateScheduled(ctx, tx, dbq.ScanCreateScheduledParams{
			ID: id, TenantID: in.TenantID, Target: t.Value, Scanners: sch.Scanners, WorkflowID: "scan/" + id.String(),
			TargetID: uuid.NullUUID{UUID: t.ID, Valid: true}, ScheduleID: uuid.NullUUID{UUID: sch.ID, Valid: true},
		})
		if err != nil {
			return err
		}
		out = ScheduledScan{ScanID: row.ID, Target: row.Target, Scanners: row.Scanners}
		return nil
	})
	return out, err
}
