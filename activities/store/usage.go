package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// RecordUsageName is the registered name of RecordUsage.
const RecordUsageName = "store.RecordUsage"

// ErrScanNotFinished is the non-retryable type of a usage record asked for
// a scan that has not ended. The workflow records usage after finishing the
// scan, so this is a sequencing bug a retry cannot fix.
const ErrScanNotFinished = "ScanNotFinished"

// UsageEvent is one scan's billing record.
type UsageEvent struct {
	ID         uuid.UUID  `json:"id"`
	TenantID   uuid.UUID  `json:"tenant_id"`
	ScanID     uuid.UUID  `json:"scan_id"`
	Source     string     `json:"source"`
	Scanners   []string   `json:"scanners"`
	Target     string     `json:"target"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt time.Time  `json:"finished_at"`
	DurationMS int64      `json:"duration_ms"`
	Status     string     `json:"status"`
	Findings   int        `json:"findings"`
	CreatedAt  time.Time  `json:"created_at"`
}

func usageEvent(e dbq.UsageEvent) UsageEvent {
	return UsageEvent{
		ID: e.ID, TenantID: e.TenantID, ScanID: e.ScanID, Source: e.Source, Scanners: e.Scanners, Target: e.Target,
		StartedAt: e.StartedAt, FinishedAt: e.FinishedAt, DurationMS: e.DurationMs, Status: e.Status,
		Findings: int(e.Findings), CreatedAt: e.CreatedAt,
	}
}

// RecordUsage writes the finished scan's usage event, once per scan: the
// scan id is the idempotency key, so a retry or a run started by a reset
// gets the event first recorded back and bills nothing twice.
func (a *Activities) RecordUsage(ctx context.Context, in ScanRef) (UsageEvent, error) {
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
			return temporal.NewNonRetryableApplicationError("scan "+in.ScanID.String()+" does not exist", ErrScanGone, err)
		}
		if err != nil {
			return err
		}
		return temporal.NewNonRetryableApplicationError("scan "+in.ScanID.String()+" has not finished (status "+sc.Status+")", ErrScanNotFinished, nil)
	})
	if err != nil {
		return UsageEvent{}, err
	}
	return usageEvent(ev), nil
}
