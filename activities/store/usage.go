package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

func usageEvent(e dbq.UsageEvent) scan.UsageEvent {
	return scan.UsageEvent{
		ID: e.ID, TenantID: e.TenantID, ScanID: e.ScanID, Source: e.Source, Scanners: e.Scanners, Target: e.Target,
		StartedAt: e.StartedAt, FinishedAt: e.FinishedAt, DurationMS: e.DurationMs, Status: e.Status,
		Findings: int(e.Findings), CreatedAt: e.CreatedAt,
	}
}

// RecordUsage writes the finished scan's usage event, once per scan: the
// scan id is the idempotency key, so a retry or a run started by a reset
// gets the event first recorded back and bills nothing twice.
func (a *Activities) RecordUsage(ctx context.Context, in scan.Ref) (scan.UsageEvent, error) {
	var ev dbq.UsageEvent
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		ev, err = db.Q.UsageEventRecord(ctx, tx, in.ScanID)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		ev, err = db.Q.UsageEventByScan(ctx, tx, in.ScanID)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		sc, err := db.Q.ScanGet(ctx, tx, in.ScanID)
		if errors.Is(err, pgx.ErrNoRows) {
			return temporal.NewNonRetryableApplicationError("scan "+in.ScanID.String()+" does not exist", scan.ErrScanGone, err)
		}
		if err != nil {
			return err
		}
		return temporal.NewNonRetryableApplicationError("scan "+in.ScanID.String()+" has not finished (status "+sc.Status+")", scan.ErrScanNotFinished, nil)
	})
	if err != nil {
		return scan.UsageEvent{}, err
	}
	return usageEvent(ev), nil
}
