// Package store holds the activities that write scan state and findings to
// PostgreSQL. Writes are keyed by natural keys (scan, fingerprint) and by the
// Temporal run that owns the scan: a retried activity repeats nothing, and a
// run started by a reset from the Web UI takes the scan over cleanly.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/activities/internal/reportparse"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/scans"
	"github.com/secureops/secureops/internal/temporalx"
)

// Activities writes through the tenant-scoped database handle.
type Activities struct {
	DB *db.DB
	// ScanLimits maps a tier to its concurrent scans (config.ScanLimits).
	ScanLimits map[string]int
	// DeadlinesChanged, when set, is told the tenant's findings changed once
	// a scan or import finished (its SLA workflow looks at the new deadlines:
	// contract sla's signal-with-start). Best effort: the SLA workflow also
	// looks daily, and the housekeeping starts missing ones.
	DeadlinesChanged func(ctx context.Context, tenantID uuid.UUID) error
}

// ScanMarkRunning moves the scan to running and makes this run its owner.
func (a *Activities) ScanMarkRunning(ctx context.Context, in scan.Ref) error {
	return a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.Q.ScanMarkRunning(ctx, tx, dbq.ScanMarkRunningParams{ID: in.ScanID, RunID: temporalx.ActivityRunID(ctx)})
		if errors.Is(err, pgx.ErrNoRows) {
			// No row, or this very run already finished it: scanning again
			// would only repeat work nobody can see.
			return temporal.NewNonRetryableApplicationError("scan "+in.ScanID.String()+" does not exist or this run already finished it", scan.ErrScanGone, err)
		}
		return err
	})
}

// IngestReport parses a stored report and upserts its findings.
func (a *Activities) IngestReport(ctx context.Context, in scan.IngestInput) (scan.IngestResult, error) {
	var res scan.IngestResult
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		sc, err := db.Q.ScanGet(ctx, tx, in.ScanID)
		if err != nil {
			return fmt.Errorf("load scan %s: %w", in.ScanID, err)
		}
		rep, err := db.Q.ScanReportGet(ctx, tx, in.ReportID)
		if err != nil {
			return fmt.Errorf("load report %s: %w", in.ReportID, err)
		}
		content, err := scans.ReportContent(ctx, tx, rep)
		if err != nil {
			return fmt.Errorf("load report %s: %w", in.ReportID, err)
		}
		fs, err := reportparse.Parse(in.Scanner, content, "")
		if err != nil {
			return err
		}
		ir, err := db.IngestFindings(ctx, tx, db.IngestBatch{
			TenantID: in.TenantID, ScanID: in.ScanID, Scanner: in.Scanner, ScanTarget: sc.Target, Findings: fs,
		})
		res = scan.IngestResult{Staged: ir.Staged, Upserted: ir.Upserted, Linked: ir.Linked}
		return err
	})
	return res, err
}

// ScanFinish records the terminal state and the severity counts.
func (a *Activities) ScanFinish(ctx context.Context, in scan.FinishInput) (scan.Counts, error) {
	var c scan.Counts
	finished := false
	switch in.Status {
	case "completed", "failed", "cancelled":
	default:
		return c, temporal.NewNonRetryableApplicationError("unknown scan status "+in.Status, scan.ErrInvalidArgument, nil)
	}
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		sc, err := db.Q.ScanOwnedByRun(ctx, tx, dbq.ScanOwnedByRunParams{ID: in.ScanID, RunID: temporalx.ActivityRunID(ctx)})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // a newer run owns the scan now; nothing of ours to record
		}
		if err != nil {
			return err
		}
		// Only a scan that ran every scanner to the end may say what is gone,
		// and only once: a finished scan is final for its run.
		if in.Status == "completed" && sc.Complete && (sc.Status == "running" || sc.Status == "queued") {
			if _, err := db.Q.FindingsMarkFixed(ctx, tx, dbq.FindingsMarkFixedParams{
				TenantID: in.TenantID, ScanTarget: sc.Target, Scanners: sc.Scanners, ScanID: in.ScanID,
			}); err != nil {
				return fmt.Errorf("mark fixed findings: %w", err)
			}
		}
		row, err := db.Q.ScanCountsRefresh(ctx, tx, dbq.ScanCountsRefreshParams{ID: in.ScanID, RunID: temporalx.ActivityRunID(ctx)})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		c = scan.Counts{Critical: int(row.CountCritical), High: int(row.CountHigh), Medium: int(row.CountMedium), Low: int(row.CountLow), Info: int(row.CountInfo),
			Diff: scan.Diff{New: int(row.DiffNew), Open: int(row.DiffOpen), Fixed: int(row.DiffFixed), Reopened: int(row.DiffReopened)}}
		var errText *string
		if in.Error != "" {
			errText = &in.Error
		}
		_, err = db.Q.ScanFinish(ctx, tx, dbq.ScanFinishParams{ID: in.ScanID, Status: in.Status, Error: errText, RunID: temporalx.ActivityRunID(ctx)})
		finished = err == nil
		return err
	})
	if finished && a.DeadlinesChanged != nil {
		if serr := a.DeadlinesChanged(ctx, in.TenantID); serr != nil && activity.IsActivity(ctx) {
			activity.GetLogger(ctx).Warn("could not wake the tenant's SLA timers", "tenant", in.TenantID, "error", serr)
		}
	}
	return c, err
}

// ScanAuthorize is the scan policy's ownership rule, enforced inside the
// workflow so that no path around the API can skip it: an active scan needs a
// registered target whose owner proved control of it (or an image, which is
// pulled rather than attacked). Addresses are checked again by the scanner
// after it resolves the name.
func (a *Activities) ScanAuthorize(ctx context.Context, in scan.Ref) (scan.Authorization, error) {
	var res scan.Authorization
	var ruleErr error // the rule's own answer, before the db edge
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		auth, err := scans.Authorize(ctx, tx, a.ScanLimits, in.TenantID, in.ScanID)
		res = scan.Authorization{Tier: auth.Tier, Limit: auth.Limit, RequestedAt: auth.RequestedAt, GateTenantID: auth.GateTenant}
		ruleErr = err
		return err
	})
	if de, ok := ruleErr.(*domainerr.Error); ok {
		switch de.Kind {
		case domainerr.NotFound:
			return res, temporal.NewNonRetryableApplicationError(de.Detail, scan.ErrScanGone, err)
		case domainerr.NotVerified:
			return res, temporal.NewNonRetryableApplicationError(de.Detail, scan.ErrTargetNotVerified, nil)
		}
	}
	return res, err
}

// ScanClaim makes this run the scan's owner and leaves it queued until the
// tenant's gate grants a slot.
func (a *Activities) ScanClaim(ctx context.Context, in scan.Ref) error {
	return a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.Q.ScanClaim(ctx, tx, dbq.ScanClaimParams{ID: in.ScanID, RunID: temporalx.ActivityRunID(ctx)})
		if errors.Is(err, pgx.ErrNoRows) {
			return temporal.NewNonRetryableApplicationError("scan "+in.ScanID.String()+" does not exist or this run already finished it", scan.ErrScanGone, err)
		}
		return err
	})
}
