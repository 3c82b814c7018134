package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/report"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/reach"
	"github.com/secureops/secureops/internal/scans"
)

// maxReportPeriod bounds a period report's window.
const maxReportPeriod = 366 * 24 * time.Hour

type reportPeriod struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

type reportRequest struct {
	ScanID *uuid.UUID    `json:"scan_id"`
	Period *reportPeriod `json:"period"`
	Kind   string        `json:"kind"`
}

// ReportView is a report: its scope, state, numbers and where to read it.
type ReportView struct {
	ID          uuid.UUID              `json:"id"`
	TenantID    uuid.UUID              `json:"tenant_id"`
	Kind        string                 `json:"kind"`
	ScanID      *uuid.UUID             `json:"scan_id"`
	Period      *reportPeriod          `json:"period"`
	Status      string                 `json:"status"`
	ProseSource string                 `json:"prose_source,omitempty"`
	Error       string                 `json:"error,omitempty"`
	WorkflowID  string                 `json:"workflow_id"`
	CreatedAt   time.Time              `json:"created_at"`
	ReadyAt     *time.Time             `json:"ready_at"`
	EmailedAt   *time.Time             `json:"emailed_at"`
	Facts       json.RawMessage        `json:"facts"`
	Links       map[string]string      `json:"links,omitempty"`
	Feedback    *ReportFeedbackSummary `json:"feedback,omitempty"`
}

// ReportFeedbackSummary counts the feedback a report got.
type ReportFeedbackSummary struct {
	Useful    int32 `json:"useful"`
	NotUseful int32 `json:"not_useful"`
}

func reportViewOf(r dbq.Report) ReportView {
	v := ReportView{ID: r.ID, TenantID: r.TenantID, Kind: r.Kind, ScanID: nullPtr(r.ScanID), Status: r.Status,
		ProseSource: r.ProseSource, Error: r.Error, WorkflowID: r.WorkflowID, CreatedAt: r.CreatedAt, ReadyAt: r.ReadyAt,
		EmailedAt: r.EmailedAt, Facts: json.RawMessage("null")}
	if r.PeriodFrom != nil && r.PeriodTo != nil {
		v.Period = &reportPeriod{From: *r.PeriodFrom, To: *r.PeriodTo}
	}
	if len(r.Facts) > 0 {
		v.Facts = r.Facts
	}
	if r.Status == "ready" {
		base := "/api/v1/reports/" + r.ID.String()
		v.Links = map[string]string{"pdf": base + ".pdf", "html": base + ".html", "md": base + ".md"}
	}
	return v
}

func (req *reportRequest) validate(now time.Time) error {
	if req.Kind == "" {
		req.Kind = report.KindExecutive
	}
	if req.Kind != report.KindExecutive && req.Kind != report.KindTechnical {
		return invalid("kind", "kind must be executive or technical")
	}
	switch {
	case (req.ScanID == nil) == (req.Period == nil):
		return badRequest("give either scan_id or period {from, to}")
	case req.Period != nil:
		p := req.Period
		if p.From.IsZero() || p.To.IsZero() || !p.From.Before(p.To) {
			return invalid("period", "period needs from before to (RFC 3339 times)")
		}
		if p.To.Sub(p.From) > maxReportPeriod {
			return invalid("period", "a period is at most 366 days")
		}
		if p.From.After(now) {
			return invalid("period", "the period starts in the future")
		}
	}
	return nil
}

// reportCreate records the report and starts report/<id>: 202 with the id
// to poll.
func (s *Server) reportCreate(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req reportRequest
	if err := firstErr(requireTenant(a), decodeJSON(r, &req, 4<<10)); err != nil {
		return err
	}
	if err := req.validate(time.Now()); err != nil {
		return err
	}
	id := uuid.New()
	var row dbq.Report
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		p := dbq.ReportCreateParams{ID: id, TenantID: a.TenantID, Kind: req.Kind, WorkflowID: report.WorkflowID(id)}
		if req.ScanID != nil {
			sc, err := scans.Get(ctx, tx, *req.ScanID)
			if err != nil {
				return err
			}
			// A scan report belongs to the scan's tenant.
			p.TenantID = sc.TenantID
			p.ScanID = uuid.NullUUID{UUID: sc.ID, Valid: true}
		} else {
			from, to := req.Period.From.UTC(), req.Period.To.UTC()
			p.PeriodFrom, p.PeriodTo = &from, &to
		}
		if pr := a.Principal; pr != nil && !pr.IsAPIKey() && pr.UserID != uuid.Nil {
			p.RequestedBy = uuid.NullUUID{UUID: pr.UserID, Valid: true}
		}
		var err error
		if row, err = db.Q.ReportCreate(ctx, tx, p); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, p.TenantID, "report.requested", "report", id.String(), map[string]any{"kind": req.Kind})
	})
	if err != nil {
		return err
	}
	in := report.Input{TenantID: row.TenantID, ReportID: id}
	startCtx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 15*time.Second)
	defer cancel()
	if _, err := s.Temporal.ExecuteWorkflow(startCtx, report.StartOptions(in.TenantID, id), report.WorkflowName, in); err != nil {
		if _, derr := s.Temporal.DescribeWorkflowExecution(startCtx, report.WorkflowID(id), ""); derr != nil {
			s.logErr(r, "start report workflow", err)
			_ = s.DB.InTx(context.WithoutCancel(r.Context()), db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
				return db.Q.ReportMarkFailed(ctx, tx, dbq.ReportMarkFailedParams{ID: id, Error: "the report could not be started"})
			})
			return domainerr.New(domainerr.Unavailable, "the report could not be started; try again shortly")
		}
	}
	w.Header().Set("Location", "/api/v1/reports/"+id.String())
	writeJSON(w, http.StatusAccepted, reportViewOf(row))
	return nil
}

func (s *Server) reportList(w http.ResponseWriter, r *http.Request) error {
	if err := requireTenant(accessFrom(r.Context())); err != nil {
		return err
	}
	limit, before, err := timePage(r.URL.Query())
	if err != nil {
		return err
	}
	p := dbq.ReportListParams{Lim: int32(limit + 1)}
	if before != nil {
		p.BeforeCreated, p.BeforeID = &before.At, uuid.NullUUID{UUID: before.ID, Valid: true}
	}
	var rows []dbq.Report
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		p.TenantID = a.TenantID
		rows, err = db.Q.ReportList(ctx, tx, p)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(rows, limit,
		func(r dbq.Report) string { return encodeTimeCursor(r.CreatedAt, r.ID) }, reportViewOf))
	return nil
}

// reportFor reads a report the request may reach.
func reportFor(ctx context.Context, tx pgx.Tx, id uuid.UUID) (dbq.Report, error) {
	rep, err := db.Q.ReportGet(ctx, tx, id)
	if err != nil {
		return rep, err
	}
	return rep, reach.Check(ctx, tx, rep.TenantID)
}

func (s *Server) reportGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var v ReportView
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		rep, err := reportFor(ctx, tx, id)
		if err != nil {
			return err
		}
		fb, err := db.Q.ReportFeedbackSummary(ctx, tx, id)
		if err != nil {
			return err
		}
		v = reportViewOf(rep)
		v.Feedback = &ReportFeedbackSummary{Useful: fb.Useful, NotUseful: fb.NotUseful}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// reportContent serves one rendering of a ready report. The HTML is
// sanitised when rendered; its Content-Security-Policy runs no script and
// loads nothing, whatever it holds.
func (s *Server) reportContent(format string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUUID(r, "id")
		if err != nil {
			return err
		}
		var c dbq.ReportContent
		err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
			rep, err := reportFor(ctx, tx, id)
			if err != nil {
				return err
			}
			if rep.Status != "ready" {
				return domainerr.New(domainerr.Conflict, "the report is "+rep.Status+", not ready; poll GET /api/v1/reports/"+id.String())
			}
			c, err = db.Q.ReportContentGet(ctx, tx, id)
			return err
		})
		if err != nil {
			return err
		}
		name := "secureops-report-" + id.String() + "." + format
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "private, max-age=300")
		var body []byte
		switch format {
		case "pdf":
			h.Set("Content-Type", "application/pdf")
			body = c.Pdf
		case "html":
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
			body = []byte(c.Html)
		default:
			h.Set("Content-Type", "text/markdown; charset=utf-8")
			body = []byte(c.Markdown)
		}
		h.Set("Content-Disposition", `inline; filename="`+name+`"`)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return nil
	}
}

// feedbackRequest is a verdict on a report or a triage answer.
type feedbackRequest struct {
	Useful  *bool  `json:"useful"`
	Comment string `json:"comment"`
}

// decodeFeedback reads and checks a feedback request (comment trimmed).
func decodeFeedback(r *http.Request) (feedbackRequest, error) {
	var req feedbackRequest
	if err := decodeJSON(r, &req, 8<<10); err != nil {
		return req, err
	}
	if req.Useful == nil {
		return req, invalid("useful", "useful (true or false) is required")
	}
	req.Comment = strings.TrimSpace(req.Comment)
	if len(req.Comment) > 2000 {
		return req, invalid("comment", "comment must be at most 2000 characters")
	}
	return req, nil
}

// ReportFeedbackView is one piece of feedback on a report.
type ReportFeedbackView struct {
	ID        uuid.UUID  `json:"id"`
	ReportID  uuid.UUID  `json:"report_id"`
	UserID    *uuid.UUID `json:"user_id"`
	Useful    bool       `json:"useful"`
	Comment   string     `json:"comment"`
	CreatedAt time.Time  `json:"created_at"`
}

func (s *Server) reportFeedback(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	req, err := decodeFeedback(r)
	if err != nil {
		return err
	}
	var fb dbq.ReportFeedback
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		rep, err := reportFor(ctx, tx, id)
		if err != nil {
			return err
		}
		p := dbq.ReportFeedbackCreateParams{ReportID: id, TenantID: rep.TenantID, Useful: *req.Useful, Comment: req.Comment}
		if pr := a.Principal; pr != nil {
			if pr.IsAPIKey() {
				p.ApiKeyID = uuid.NullUUID{UUID: pr.APIKeyID, Valid: true}
			} else if pr.UserID != uuid.Nil {
				p.UserID = uuid.NullUUID{UUID: pr.UserID, Valid: true}
			}
		}
		fb, err = db.Q.ReportFeedbackCreate(ctx, tx, p)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ReportFeedbackView{ID: fb.ID, ReportID: fb.ReportID, UserID: nullPtr(fb.UserID),
		Useful: fb.Useful, Comment: fb.Comment, CreatedAt: fb.CreatedAt})
	return nil
}
