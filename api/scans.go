package api

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/gate"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/faults"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/payments"
	"github.com/secureops/secureops/internal/scans"
)

type scanCreateRequest struct {
	TargetID *uuid.UUID `json:"target_id"`
	Target   string     `json:"target"`
	Scanners []string   `json:"scanners"`
}

type scanCreateResponse struct {
	ID         uuid.UUID `json:"id"`
	TargetID   uuid.UUID `json:"target_id"`
	WorkflowID string    `json:"workflow_id"`
	Status     string    `json:"status"`
}

// scanCreate starts an on-demand scan: the scans domain validates the
// request, resolves and authorises the target and stores the scan; the
// handler starts its workflow and queues it at the tenant's gate.
func (s *Server) scanCreate(w http.ResponseWriter, r *http.Request) error {
	var body scanCreateRequest
	if err := decodeJSON(r, &body, 64<<10); err != nil {
		return err
	}
	rules := s.scanRules()
	req, err := rules.NewRequest(body.TargetID, body.Target, body.Scanners)
	if err != nil {
		return err
	}
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return err
	}
	id := uuid.New()
	wid := scan.WorkflowID(id)
	var c scans.Created
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if err := payments.Hold(ctx, tx, a.TenantID); err != nil {
			return err // 402: billing suspended or cancelled
		}
		var err error
		if c, err = rules.Create(ctx, tx, a.TenantID, id, wid, req); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "scan.started", "scan", id.String(), map[string]any{"target": c.Scan.Target, "scanners": c.Scan.Scanners})
	})
	if err != nil {
		return err
	}
	in := scan.Input{TenantID: a.TenantID, ScanID: id, Target: c.Scan.Target, Scanners: c.Scan.Scanners}
	if err := s.startScan(r, in); err != nil {
		return err
	}
	// Join the tenant's queue in request order, without making the client
	// wait for it (gatejoin.go); the workflow joins again (harmlessly).
	s.gates.add(s.Temporal, s.Log, gate.AcquireInput{
		TenantID: c.Gate.TenantID, ScanWorkflowID: wid, Limit: c.Gate.Limit, RequestedAt: c.Scan.CreatedAt,
	})
	w.Header().Set("Location", "/api/v1/scans/"+id.String())
	writeJSON(w, http.StatusAccepted, scanCreateResponse{ID: id, TargetID: c.Target.ID, WorkflowID: wid, Status: "queued"})
	return nil
}

func (s *Server) scanRules() scans.Rules {
	return scans.Rules{Policy: s.Policy, Limits: s.ScanLimits, Installed: s.InstalledScanners}
}

// startScan starts the scan's workflow for a row that exists already; on
// failure it marks the row failed and returns the 503 to answer.
func (s *Server) startScan(r *http.Request, in scan.Input) error {
	wid := scan.WorkflowID(in.ScanID)
	faults.Pause(faults.ScanRowWritten) // `make chaos` kills the API here
	// The start must not be abandoned half-way because the client hung up:
	// the row already exists and would otherwise wait for a workflow forever.
	startCtx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 15*time.Second)
	defer cancel()
	_, err := s.Temporal.ExecuteWorkflow(startCtx, scan.StartOptions(in), scan.WorkflowName, in)
	if err != nil {
		// A timeout can hide a start that succeeded: ask before giving up.
		if _, derr := s.Temporal.DescribeWorkflowExecution(startCtx, wid, ""); derr == nil {
			err = nil
		}
	}
	if err == nil {
		return nil
	}
	// The row must not stay queued forever for a workflow that never began.
	_ = s.DB.InTx(context.WithoutCancel(r.Context()), db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		return scans.FailUnstarted(ctx, tx, in.ScanID)
	})
	s.logErr(r, "start scan workflow", err)
	return domainerr.New(domainerr.Unavailable, "the scan could not be started; try again shortly")
}

// ScanView is the API representation of a scan.
type ScanView struct {
	ID              uuid.UUID      `json:"id"`
	TenantID        uuid.UUID      `json:"tenant_id"`
	TargetID        *uuid.UUID     `json:"target_id"`
	Source          string         `json:"source"`
	Complete        bool           `json:"complete"`
	Target          string         `json:"target"`
	Scanners        []string       `json:"scanners"`
	Status          string         `json:"status"`
	Progress        int            `json:"progress"`
	ProgressMessage string         `json:"progress_message"`
	WorkflowID      string         `json:"workflow_id"`
	Error           *string        `json:"error"`
	CreatedAt       time.Time      `json:"created_at"`
	StartedAt       *time.Time     `json:"started_at"`
	FinishedAt      *time.Time     `json:"finished_at"`
	Counts          map[string]int `json:"counts"`
	FindingsTotal   int            `json:"findings_total"`
	Diff            map[string]int `json:"diff"`
	// DefectDojoTests maps each scanner to the DefectDojo test its report
	// went into (GET of one scan only).
	DefectDojoTests map[string]int64 `json:"defectdojo_tests,omitempty"`
}

func scanView(sc scans.Scan) ScanView {
	c, d := sc.Counts, sc.Diff
	return ScanView{
		ID: sc.ID, TenantID: sc.TenantID, TargetID: sc.TargetID, Source: sc.Source, Complete: sc.Complete, Target: sc.Target, Scanners: sc.Scanners, Status: sc.Status,
		Progress: sc.Progress, ProgressMessage: sc.ProgressMessage, WorkflowID: sc.WorkflowID,
		Error: sc.Error, CreatedAt: sc.CreatedAt, StartedAt: sc.StartedAt, FinishedAt: sc.FinishedAt,
		Counts:        map[string]int{"critical": c.Critical, "high": c.High, "medium": c.Medium, "low": c.Low, "info": c.Info},
		FindingsTotal: c.Total(),
		Diff:          map[string]int{"new": d.New, "open": d.Open, "fixed": d.Fixed, "reopened": d.Reopened},
	}
}

func (s *Server) scanGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var sc scans.Scan
	var tests map[string]int64
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		if sc, err = scans.Get(ctx, tx, id); err != nil {
			return err
		}
		tests, err = scans.DefectDojoTests(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	v := scanView(sc)
	v.DefectDojoTests = tests
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) scanFindingsList(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return err
	}
	var f findings.ScanFilter
	if v := q.Get("severity"); v != "" {
		sev := findings.Severity(v)
		if !sev.Valid() {
			return invalid("severity", "severity must be one of critical, high, medium, low, info")
		}
		f.Severity = &sev
	}
	if v := q.Get("change"); v != "" {
		if !slices.Contains(findings.Changes, v) {
			return invalid("change", "change must be one of new, open, reopened, fixed")
		}
		f.Change = &v
	}
	var after *uuid.UUID
	if v := q.Get("cursor"); v != "" {
		id, err := decodeCursor(v)
		if err != nil {
			return errCursor
		}
		after = &id
	}
	var rows []findings.InScan
	var tri map[uuid.UUID]*TriageView
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		if _, err := scans.Get(ctx, tx, id); err != nil {
			return err
		}
		if rows, err = findings.ListByScan(ctx, tx, id, f, after, limit+1); err != nil {
			return err
		}
		ids := make([]uuid.UUID, len(rows))
		for i, f := range rows {
			ids[i] = f.ID
		}
		tri, err = latestTriage(ctx, tx, ids)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(rows, limit,
		func(f findings.InScan) string { return encodeCursor(f.ID) },
		func(f findings.InScan) FindingView {
			v := findingView(f.Stored)
			v.Change = f.Change
			v.Triage = tri[f.ID]
			return v
		}))
	return nil
}

func (s *Server) scanList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, before, err := timePage(q)
	if err != nil {
		return err
	}
	var f scans.Filter
	if v := q.Get("status"); v != "" {
		if !slices.Contains(scans.Statuses, v) {
			return invalid("status", "status must be one of queued, running, completed, failed, cancelled")
		}
		f.Status = &v
	}
	if v := q.Get("target_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return invalid("target_id", "target_id must be a UUID")
		}
		f.TargetID = &id
	}
	var rows []scans.Scan
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		rows, err = scans.List(ctx, tx, f, before, limit+1)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(rows, limit, func(sc scans.Scan) string { return timeCursor(sc.Key()) }, scanView))
	return nil
}
