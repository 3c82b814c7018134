// Package reports holds the activities of a report (contract:
// internal/contract/report): gathering its numbers by SQL, asking the writer
// for prose (a model through the reporting.Writer seam, else rules), and
// rendering and storing it once (internal/reporting). The email with its
// link is activities/email's (ReportReady).
package reports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/brand"
	"github.com/secureops/secureops/internal/contract/report"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/reporting"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/tenancy"
)

// ErrGone: the report's row (or its tenant) no longer exists; nothing to retry.
const ErrGone = "ReportGone"

// TopLimit is how many top findings a report's facts carry.
const TopLimit = 20

// Activities reach Postgres in the report's tenant scope.
type Activities struct {
	DB *db.DB
	// Brand names the platform in the renderings (zero: SecureOps').
	Brand brand.Brand
	// Writer writes the prose: a model's client when one is configured;
	// nil writes rules prose.
	Writer reporting.Writer
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Register binds the activities to their names.
func Register(reg temporalx.ActivityRegistry, a *Activities) {
	report.Gather.Register(reg, a.Gather)
	report.Write.Register(reg, a.Write)
	report.Render.Register(reg, a.Render)
	report.MarkFailed.Register(reg, a.MarkFailed)
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// gone makes a missing report (or scan) final: InTx turns the driver's
// no-rows into a domain error, so this applies to what InTx returns.
func gone(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return temporal.NewNonRetryableApplicationError("the report no longer exists", ErrGone, err)
	}
	return err
}

func f64(v pgtype.Float4) *float64 {
	if !v.Valid {
		return nil
	}
	x := float64(v.Float32)
	return &x
}

// Gather reads the report's scope and its numbers in one transaction.
func (a *Activities) Gather(ctx context.Context, in report.Input) (report.Facts, error) {
	now := a.now().UTC().Truncate(time.Second)
	f := report.Facts{
		ReportID: in.ReportID, TenantID: in.TenantID, GeneratedAt: now,
		BySeverity: map[string]int{}, ByStatus: map[string]int{}, OpenBySeverity: map[string]int{}, Top: []report.TopFinding{},
	}
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		r, err := db.Q.ReportGet(ctx, tx, in.ReportID)
		if err != nil {
			return err
		}
		f.Kind = r.Kind
		if t, err := db.Q.TenantGet(ctx, tx, in.TenantID); err == nil {
			f.Tenant = t.Name
		}
		var target *string
		if r.ScanID.Valid {
			s, err := db.Q.ReportScanWindow(ctx, tx, r.ScanID.UUID)
			if err != nil {
				return err
			}
			id := s.ID
			f.ScanID, f.Target = &id, s.Target
			// The scan's window, to the second, covering its last writes.
			f.From, f.To = s.CreatedAt.UTC().Truncate(time.Second), s.FinishedAt.UTC().Truncate(time.Second).Add(time.Second)
			target = &s.Target
		} else if r.PeriodFrom != nil && r.PeriodTo != nil {
			f.From, f.To = r.PeriodFrom.UTC(), r.PeriodTo.UTC()
		} else {
			return temporal.NewNonRetryableApplicationError("the report's scan no longer exists", ErrGone, nil)
		}
		counts, err := db.Q.ReportFactsCounts(ctx, tx, dbq.ReportFactsCountsParams{
			TenantID: in.TenantID, ScanID: r.ScanID, PeriodFrom: f.From, PeriodTo: f.To,
		})
		if err != nil {
			return err
		}
		for _, c := range counts {
			n := int(c.N)
			f.BySeverity[c.Severity] += n
			f.ByStatus[c.Status] += n
			f.Total += n
			if open(c.Status) {
				f.OpenBySeverity[c.Severity] += n
				f.Open += n
				f.KEVOpen += int(c.Kev)
			}
		}
		top, err := db.Q.ReportFactsTop(ctx, tx, dbq.ReportFactsTopParams{
			TenantID: in.TenantID, ScanID: r.ScanID, PeriodFrom: f.From, PeriodTo: f.To, Lim: TopLimit,
		})
		if err != nil {
			return err
		}
		for _, t := range top {
			w := t.Url
			if w == "" && t.Host != "" {
				w = t.Host
				if t.Port != 0 {
					w = fmt.Sprintf("%s:%d", t.Host, t.Port)
				}
			}
			if w == "" {
				w = t.Target
			}
			comp := t.Component
			if comp != "" && t.ComponentVersion != "" {
				comp += " " + t.ComponentVersion
			}
			f.Top = append(f.Top, report.TopFinding{
				ID: t.ID, Title: t.Title, Severity: t.Severity, Status: t.Status, Priority: int(t.Priority), KEV: t.Kev,
				EPSS: f64(t.Epss), EPSSPercentile: f64(t.EpssPercentile), CVEs: t.Cves, Where: w, Component: comp,
				SLADueAt: t.SlaDueAt, Scanner: t.Scanner, RuleID: t.RuleID,
			})
		}
		win, err := db.Q.ReportFactsWindow(ctx, tx, dbq.ReportFactsWindowParams{
			TenantID: in.TenantID, PeriodFrom: f.From, PeriodTo: f.To, Target: target, Now: &now, ScanID: r.ScanID,
		})
		if err != nil {
			return err
		}
		f.New, f.Fixed, f.SLAOverdue = int(win.NewFindings), int(win.FixedFindings), int(win.SlaOverdue)
		f.ScansRun, f.ScansFailed = int(win.ScansRun), int(win.ScansFailed)
		return nil
	})
	return f, gone(err)
}

func open(status string) bool { return status == "new" || status == "open" || status == "reopened" }

// Write asks the writer for prose. A model that fails (or is not
// configured) leaves the rules' prose: a report never waits on a model.
func (a *Activities) Write(ctx context.Context, in report.WriteInput) (report.Prose, error) {
	if a.Writer != nil {
		text, err := a.Writer.Prose(ctx, in.Kind, in.Facts)
		if err == nil && text != "" {
			return report.Prose{Text: text, Source: reporting.Source(a.Writer)}, nil
		}
		if ctx.Err() != nil {
			return report.Prose{}, ctx.Err()
		}
		switch {
		case a.Log == nil:
		case errors.Is(err, report.ErrDeclined):
			a.Log.Info("report prose: rules prose", "report_id", in.Facts.ReportID, "reason", err)
		default:
			a.Log.Warn("report prose: the model failed; rules prose instead", "report_id", in.Facts.ReportID, "error", err)
		}
	}
	text, err := reporting.RulesWriter{}.Prose(ctx, in.Kind, in.Facts)
	return report.Prose{Text: text, Source: reporting.SourceRules}, err
}

// Render renders the report and stores it with its facts, then marks it
// ready. A report stored already (a retry, a reset run) keeps what it has.
func (a *Activities) Render(ctx context.Context, in report.RenderInput) (report.Rendered, error) {
	var res report.Rendered
	var existing *dbq.ReportContent
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		if _, err := db.Q.ReportGet(ctx, tx, in.ReportID); err != nil {
			return err
		}
		c, err := db.Q.ReportContentGet(ctx, tx, in.ReportID)
		if err == nil {
			existing = &c
			return nil
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return res, gone(err)
	}
	if existing != nil {
		return report.Rendered{Markdown: len(existing.Markdown), HTML: len(existing.Html), PDF: len(existing.Pdf)}, a.markReady(ctx, in)
	}
	b := a.Brand
	if b.Name == "" {
		b = brand.Default
	}
	// The tenant's own logo, as stored now (a retry after a change renders
	// the new one; a stored report keeps what it was rendered with).
	var logo tenancy.Logo
	err = a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) (err error) {
		logo, _, err = tenancy.GetLogo(ctx, tx, in.TenantID)
		return err
	})
	if err != nil {
		return res, err
	}
	doc, err := reporting.RenderLook(in.Facts, in.Prose.Text, in.Prose.Source, reporting.Look{Brand: b, TenantLogo: logo.PNG})
	if err != nil {
		return res, temporal.NewNonRetryableApplicationError("rendering the report failed: "+err.Error(), "ReportRender", err)
	}
	facts, err := json.Marshal(in.Facts)
	if err != nil {
		return res, err
	}
	err = a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		n, err := db.Q.ReportContentInsert(ctx, tx, dbq.ReportContentInsertParams{
			ReportID: in.ReportID, TenantID: in.TenantID, Markdown: doc.Markdown, Html: doc.HTML, Pdf: doc.PDF,
		})
		if err != nil {
			return err
		}
		res = report.Rendered{Markdown: len(doc.Markdown), HTML: len(doc.HTML), PDF: len(doc.PDF), Stored: n == 1}
		return db.Q.ReportMarkReady(ctx, tx, dbq.ReportMarkReadyParams{ID: in.ReportID, Facts: facts, ProseSource: in.Prose.Source})
	})
	return res, err
}

func (a *Activities) markReady(ctx context.Context, in report.RenderInput) error {
	facts, err := json.Marshal(in.Facts)
	if err != nil {
		return err
	}
	return a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.ReportMarkReady(ctx, tx, dbq.ReportMarkReadyParams{ID: in.ReportID, Facts: facts, ProseSource: in.Prose.Source})
	})
}

// MarkFailed records why a report failed (a ready one stays ready).
func (a *Activities) MarkFailed(ctx context.Context, in report.FailedInput) error {
	return a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.ReportMarkFailed(ctx, tx, dbq.ReportMarkFailedParams{ID: in.ReportID, Error: in.Error})
	})
}
