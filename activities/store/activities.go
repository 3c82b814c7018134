// Package store holds the activities that write scan state and findings to
// PostgreSQL. Writes are keyed by natural keys (scan, fingerprint) and by the
// Temporal run that owns the scan: a retried activity repeats nothing, and a
// run started by a reset from the Web UI takes the scan over cleanly.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/parsers"
	"github.com/secureops/secureops/internal/scans"
)

// Activity names, registered explicitly so renaming a Go method never
// orphans a running workflow.
const (
	ScanMarkRunningName = "store.ScanMarkRunning"
	IngestReportName    = "store.IngestReport"
	ScanFinishName      = "store.ScanFinish"
	ScanAuthorizeName   = "store.ScanAuthorize"
	ScanClaimName       = "store.ScanClaim"
)

// ErrTargetNotVerified is the non-retryable type of an active scan of a target
// whose owner has not proved control of it.
const ErrTargetNotVerified = "TargetNotVerified"

// ErrReportMalformed is the non-retryable error type of a report no parser can read.
const ErrReportMalformed = "ReportMalformed"

// Activities writes through the tenant-scoped database handle.
type Activities struct {
	DB *db.DB
	// ScanLimits maps a tier to its concurrent scans (config.ScanLimits).
	ScanLimits map[string]int
}

// ScanRef names a scan of a tenant.
type ScanRef struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ScanID   uuid.UUID `json:"scan_id"`
}

// ErrScanGone is the non-retryable type for a scan whose row is missing.
const ErrScanGone = "ScanGone"

// RunID is the Temporal run an activity belongs to; "" outside Temporal.
func RunID(ctx context.Context) string {
	if !activity.IsActivity(ctx) {
		return ""
	}
	return activity.GetInfo(ctx).WorkflowExecution.RunID
}

// ScanMarkRunning moves the scan to running and makes this run its owner.
func (a *Activities) ScanMarkRunning(ctx context.Context, in ScanRef) error {
	return a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.Q.ScanMarkRunning(ctx, tx, dbq.ScanMarkRunningParams{ID: in.ScanID, RunID: RunID(ctx)})
		if errors.Is(err, pgx.ErrNoRows) {
			// No row, or this very run already finished it: scanning again
			// would only repeat work nobody can see.
			return temporal.NewNonRetryableApplicationError("scan "+in.ScanID.String()+" does not exist or this run already finished it", ErrScanGone, err)
		}
		return err
	})
}

// IngestInput points at a stored raw report.
type IngestInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ScanID   uuid.UUID `json:"scan_id"`
	ReportID uuid.UUID `json:"report_id"`
	Scanner  string    `json:"scanner"`
}

// IngestReport parses a stored report and upserts its findings.
func (a *Activities) IngestReport(ctx context.Context, in IngestInput) (db.IngestResult, error) {
	var res db.IngestResult
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		sc, err := db.Q.ScanGet(ctx, tx, in.ScanID)
		if err != nil {
			return fmt.Errorf("load scan %s: %w", in.ScanID, err)
		}
		rep, err := db.Q.ScanReportGet(ctx, tx, in.ReportID)
		if err != nil {
			return fmt.Errorf("load report %s: %w", in.ReportID, err)
		}
		fs, err := parsers.Parse(in.Scanner, rep.Content)
		if err != nil {
			var me *parsers.MalformedError
			if errors.As(err, &me) || errors.Is(err, parsers.ErrUnknownScanner) {
				return temporal.NewNonRetryableApplicationError(err.Error(), ErrReportMalformed, err)
			}
			return err
		}
		res, err = db.IngestFindings(ctx, tx, db.IngestBatch{
			TenantID: in.TenantID, ScanID: in.ScanID, Scanner: in.Scanner, ScanTarget: sc.Target, Findings: fs,
		})
		return err
	})
	return res, err
}

// FinishInput ends a scan.
type FinishInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ScanID   uuid.UUID `json:"scan_id"`
	Status   string    `json:"status"` // completed, failed, cancelled
	Error    string    `json:"error,omitempty"`
}

// Counts of a scan's findings by severity, and what the scan changed.
type Counts struct {
	Critical int  `json:"critical"`
	High     int  `json:"high"`
	Medium   int  `json:"medium"`
	Low      int  `json:"low"`
	Info     int  `json:"info"`
	Diff     Diff `json:"diff"`
}

// Diff is what a scan changed in the findings store.
type Diff struct {
	New      int `json:"new"`
	Open     int `json:"open"` // seen before and still there
	Fixed    int `json:"fixed"`
	Reopened int `json:"reopened"`
}

// Total of all severities.
func (c Counts) Total() int { return c.Critical + c.High + c.Medium + c.Low + c.Info }

// ScanFinish records the terminal state and the severity counts.
func (a *Activities) ScanFinish(ctx context.Context, in FinishInput) (Counts, error) {
	var c Counts
	switch in.Status {
	case "completed", "failed", "cancelled":
	default:
		return c, temporal.NewNonRetryableApplicationError("unknown scan status "+in.Status, "InvalidArgument", nil)
	}
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		sc, err := db.Q.ScanOwnedByRun(ctx, tx, dbq.ScanOwnedByRunParams{ID: in.ScanID, RunID: RunID(ctx)})
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
		row, err := db.Q.ScanCountsRefresh(ctx, tx, dbq.ScanCountsRefreshParams{ID: in.ScanID, RunID: RunID(ctx)})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		c = Counts{Critical: int(row.CountCritical), High: int(row.CountHigh), Medium: int(row.CountMedium), Low: int(row.CountLow), Info: int(row.CountInfo),
			Diff: Diff{New: int(row.DiffNew), Open: int(row.DiffOpen), Fixed: int(row.DiffFixed), Reopened: int(row.DiffReopened)}}
		var errText *string
		if in.Error != "" {
			errText = &in.Error
		}
		_, err = db.Q.ScanFinish(ctx, tx, dbq.ScanFinishParams{ID: in.ScanID, Status: in.Status, Error: errText, RunID: RunID(ctx)})
		return err
	})
	return c, err
}

// ScanAuthorize is the scan policy's ownership rule, enforced inside the
// workflow so that no path around the API can skip it: an active scan needs a
// registered target whose owner proved control of it (or an image, which is
// pulled rather than attacked). Addresses are checked again by the scanner
// after it resolves the name.
func (a *Activities) ScanAuthorize(ctx context.Context, in ScanRef) (AuthorizeResult, error) {
	var res AuthorizeResult
	var ruleErr error // the rule's own answer, before the db edge
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		auth, err := scans.Authorize(ctx, tx, a.ScanLimits, in.TenantID, in.ScanID)
		res = AuthorizeResult{Tier: auth.Tier, Limit: auth.Limit, RequestedAt: auth.RequestedAt}
		ruleErr = err
		return err
	})
	if de, ok := ruleErr.(*domainerr.Error); ok {
		switch de.Kind {
		case domainerr.NotFound:
			return res, temporal.NewNonRetryableApplicationError(de.Detail, ErrScanGone, err)
		case domainerr.NotVerified:
			return res, temporal.NewNonRetryableApplicationError(de.Detail, ErrTargetNotVerified, nil)
		}
	}
	return res, err
}

// AuthorizeResult is what the scan needs to know about its tenant.
type AuthorizeResult struct {
	Tier        string    `json:"tier"`
	Limit       int       `json:"limit"` // concurrent scans the tier allows
	RequestedAt time.Time `json:"requested_at"`
}

// ScanClaim makes this run the scan's owner and leaves it queued until the
// tenant's gate grants a slot.
func (a *Activities) ScanClaim(ctx context.Context, in ScanRef) error {
	return a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.Q.ScanClaim(ctx, tx, dbq.ScanClaimParams{ID: in.ScanID, RunID: RunID(ctx)})
		if errors.Is(err, pgx.ErrNoRows) {
			return temporal.NewNonRetryableApplicationError("scan "+in.ScanID.String()+" does not exist or this run already finished it", ErrScanGone, err)
		}
		return err
	})
}
