package api

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	agate "github.com/secureops/secureops/activities/gate"
	"github.com/secureops/secureops/activities/scanner"
	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/workflows/scan"
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

// decodeJSON reads a JSON body strictly: right media type, bounded size, no
// unknown fields, nothing after the object.
func decodeJSON(r *http.Request, v any, limit int64) error {
	// Requiring the media type also keeps cross-site form posts out: a
	// browser cannot send application/json cross-origin without a preflight.
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return statusErr(http.StatusUnsupportedMediaType, "the body must be sent with Content-Type: application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return statusErr(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", limit))
		case errors.As(err, &te) && te.Field == "":
			return badRequest("the body must be a JSON object")
		case errors.Is(err, io.EOF):
			return badRequest("the body is empty; a JSON object is required")
		case errors.As(err, &se):
			return badRequest(fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se))
		case errors.As(err, &te):
			return invalid(te.Field, fmt.Sprintf("%s must be %s", te.Field, te.Type))
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return badRequest(err.Error())
		default:
			return badRequest("malformed JSON: " + err.Error())
		}
	}
	if dec.More() {
		return badRequest("unexpected data after the JSON object")
	}
	return nil
}

// scannersFor validates the requested scanners for a target kind: images
// are for trivy alone, and trivy scans nothing else.
func scannersFor(kind targets.Kind, req []string) ([]string, error) {
	if req == nil {
		if kind == targets.KindImage {
			return []string{"trivy"}, nil
		}
		return []string{"nmap"}, nil
	}
	if len(req) == 0 {
		return nil, invalid("scanners", "scanners must list at least one scanner (or be omitted for the default)")
	}
	seen := map[string]bool{}
	for i, sc := range req {
		field := fmt.Sprintf("scanners[%d]", i)
		switch {
		case !scanner.Known[sc]:
			return nil, invalid(field, fmt.Sprintf("unknown scanner %q", sc))
		case seen[sc]:
			return nil, invalid(field, fmt.Sprintf("scanner %q listed twice", sc))
		case kind == targets.KindImage && sc != "trivy":
			return nil, invalid(field, fmt.Sprintf("scanner %q cannot scan a container image; use trivy", sc))
		case kind != targets.KindImage && sc == "trivy":
			return nil, invalid(field, "trivy scans container images; register the image as a target of kind image")
		}
		seen[sc] = true
	}
	return req, nil
}

func (s *Server) scanCreate(w http.ResponseWriter, r *http.Request) error {
	var req scanCreateRequest
	if err := decodeJSON(r, &req, 64<<10); err != nil {
		return err
	}
	switch {
	case req.TargetID == nil && req.Target == "":
		return invalid("target", "target is required (or target_id, the id of a registered target)")
	case req.TargetID != nil && req.Target != "":
		return invalid("target_id", "give either target_id or target, not both")
	}
	var parsed targets.Target
	if req.Target != "" {
		var err error
		if parsed, err = targets.Parse(req.Target); err != nil {
			return invalid("target", err.Error())
		}
		// Fast feedback for literal addresses; names are checked after
		// resolution inside the scan itself, the check that cannot be bypassed.
		if ip, err := netip.ParseAddr(parsed.Host); err == nil {
			if err := s.Policy.Check(ip); err != nil {
				return domainerr.New(domainerr.Refused, err.Error())
			}
		}
	}
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return err
	}
	id := uuid.New()
	wid := scan.WorkflowID(id)
	var in scan.Input
	var target dbq.Target
	var limit int
	var requested time.Time
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		switch {
		case req.TargetID != nil:
			if target, err = db.Q.TargetGet(ctx, tx, *req.TargetID); db.IsNotFound(err) {
				return invalid("target_id", "no target with this id")
			} else if err != nil {
				return err
			}
			if target.TenantID != a.TenantID {
				return invalid("target_id", "the target belongs to another tenant; act as that tenant with X-Tenant-Id")
			}
		default:
			target, err = db.Q.TargetByValue(ctx, tx, dbq.TargetByValueParams{TenantID: a.TenantID, Value: parsed.String()})
			if db.IsNotFound(err) && (s.Policy.AutoVerifies(parsed) || parsed.Kind == targets.KindImage) {
				var row dbq.TargetCreateRow
				if row, err = s.registerTarget(ctx, tx, a.TenantID, parsed, ""); err == nil {
					target = targetFromCreateRow(row)
				}
			}
			if db.IsNotFound(err) {
				return domainerr.New(domainerr.Refused, fmt.Sprintf(
					"the target %s is not registered; register it with POST /api/v1/targets and verify it before scanning", parsed.String()))
			}
			if err != nil {
				return err
			}
		}
		if target.VerificationStatus != "verified" && target.VerificationStatus != "not_required" {
			return domainerr.New(domainerr.Refused, fmt.Sprintf(
				"the target %s is not verified (status %s); prove ownership with POST /api/v1/targets/%s/verify",
				target.Value, target.VerificationStatus, target.ID))
		}
		scanners, err := scannersFor(targets.Kind(target.Kind), req.Scanners)
		if err != nil {
			return err
		}
		in = scan.Input{TenantID: a.TenantID, ScanID: id, Target: target.Value, Scanners: scanners}
		ten, err := db.Q.TenantGet(ctx, tx, a.TenantID)
		if err != nil {
			return err
		}
		limit = s.ScanLimits[ten.Tier]
		row, err := db.Q.ScanCreate(ctx, tx, dbq.ScanCreateParams{
			ID: id, TenantID: a.TenantID, Target: in.Target, Scanners: in.Scanners, WorkflowID: wid,
			TargetID: uuid.NullUUID{UUID: target.ID, Valid: true}, Source: "scan", Complete: true,
		})
		if err != nil {
			return err
		}
		requested = row.CreatedAt
		return audit(ctx, tx, r, a, uuid.Nil, "scan.started", "scan", id.String(), map[string]any{"target": in.Target, "scanners": in.Scanners})
	})
	if err != nil {
		return err
	}
	if err := s.startScan(r, in); err != nil {
		return err
	}
	// Join the tenant's queue now, in request order; the workflow joins
	// again (harmlessly) if this fails.
	qctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := agate.Enqueue(qctx, s.Temporal, agate.AcquireInput{
		TenantID: in.TenantID, ScanWorkflowID: wid, Limit: limit, RequestedAt: requested,
	}); err != nil {
		s.logErr(r, "queue scan at the tenant's gate", err)
	}
	w.Header().Set("Location", "/api/v1/scans/"+id.String())
	writeJSON(w, http.StatusAccepted, scanCreateResponse{ID: id, TargetID: target.ID, WorkflowID: wid, Status: "queued"})
	return nil
}

// startScan starts the scan's workflow for a row that exists already; on
// failure it marks the row failed and returns the 503 to answer.
func (s *Server) startScan(r *http.Request, in scan.Input) error {
	wid := scan.WorkflowID(in.ScanID)
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
		msg := "could not start the scan workflow"
		_, err := db.Q.ScanFinish(ctx, tx, dbq.ScanFinishParams{ID: in.ScanID, Status: "failed", Error: &msg})
		return err
	})
	s.logErr(r, "start scan workflow", err)
	return domainerr.New(domainerr.Unavailable, "the scan could not be started; try again shortly")
}

func (s *Server) logErr(r *http.Request, what string, err error) {
	if s.Log != nil {
		s.Log.ErrorContext(r.Context(), what, "error", err)
	}
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

func scanView(sc dbq.Scan) ScanView {
	counts := map[string]int{
		"critical": int(sc.CountCritical), "high": int(sc.CountHigh), "medium": int(sc.CountMedium),
		"low": int(sc.CountLow), "info": int(sc.CountInfo),
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	return ScanView{
		ID: sc.ID, TenantID: sc.TenantID, TargetID: nullPtr(sc.TargetID), Source: sc.Source, Complete: sc.Complete, Target: sc.Target, Scanners: sc.Scanners, Status: sc.Status,
		Progress: int(sc.Progress), ProgressMessage: sc.ProgressMessage, WorkflowID: sc.WorkflowID,
		Error: sc.Error, CreatedAt: sc.CreatedAt, StartedAt: sc.StartedAt, FinishedAt: sc.FinishedAt,
		Counts: counts, FindingsTotal: total,
		Diff: map[string]int{"new": int(sc.DiffNew), "open": int(sc.DiffOpen), "fixed": int(sc.DiffFixed), "reopened": int(sc.DiffReopened)},
	}
}

func pathUUID(r *http.Request, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(chi.URLParam(r, name))
	if err != nil {
		return uuid.Nil, invalid(name, name+" must be a UUID")
	}
	return id, nil
}

func (s *Server) scanGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var sc dbq.Scan
	var imports []dbq.ScanDefectdojoImport
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		if sc, err = db.Q.ScanGet(ctx, tx, id); err != nil {
			return err
		}
		imports, err = db.Q.DefectDojoImportsOfScan(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	v := scanView(sc)
	for _, im := range imports {
		if v.DefectDojoTests == nil {
			v.DefectDojoTests = map[string]int64{}
		}
		v.DefectDojoTests[im.Scanner] = im.TestID
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// FindingView is the API representation of a finding.
type FindingView struct {
	ID               uuid.UUID  `json:"id"`
	Fingerprint      string     `json:"fingerprint"`
	Title            string     `json:"title"`
	Severity         string     `json:"severity"`
	Status           string     `json:"status"`
	CVEs             []string   `json:"cves"`
	CWEs             []int32    `json:"cwes"`
	CVSSScore        float64    `json:"cvss_score"`
	CVSSVector       string     `json:"cvss_vector"`
	Component        string     `json:"component"`
	ComponentVersion string     `json:"component_version"`
	Host             string     `json:"host"`
	Port             int32      `json:"port"`
	Protocol         string     `json:"protocol"`
	URL              string     `json:"url"`
	Target           string     `json:"target"`
	Scanner          string     `json:"scanner"`
	RuleID           string     `json:"rule_id"`
	Description      string     `json:"description"`
	Remediation      string     `json:"remediation"`
	References       []string   `json:"references"`
	Evidence         string     `json:"evidence"`
	FirstSeenAt      time.Time  `json:"first_seen_at"`
	LastSeenAt       time.Time  `json:"last_seen_at"`
	StatusChangedAt  time.Time  `json:"status_changed_at"`
	FixedAt          *time.Time `json:"fixed_at"`
	ScanTarget       string     `json:"scan_target"`
	ReportedBy       string     `json:"reported_by"`
	FirstScanID      *uuid.UUID `json:"first_scan_id"`
	LastScanID       *uuid.UUID `json:"last_scan_id"`
	// Change is what the listed scan meant for the finding (scan listings only).
	Change string `json:"change,omitempty"`
}

func findingView(f dbq.Finding) FindingView {
	return FindingView{
		ID: f.ID, Fingerprint: f.Fingerprint, Title: f.Title, Severity: f.Severity, Status: f.Status,
		CVEs: f.Cves, CWEs: f.Cwes, CVSSScore: f.CvssScore, CVSSVector: f.CvssVector,
		Component: f.Component, ComponentVersion: f.ComponentVersion, Host: f.Host, Port: f.Port,
		Protocol: f.Protocol, URL: f.Url, Target: f.Target, Scanner: f.Scanner, RuleID: f.RuleID,
		Description: f.Description, Remediation: f.Remediation, References: f.Refs, Evidence: f.Evidence,
		FirstSeenAt: f.FirstSeenAt, LastSeenAt: f.LastSeenAt, StatusChangedAt: f.StatusChangedAt, FixedAt: f.FixedAt,
		ScanTarget: f.ScanTarget, ReportedBy: f.ReportedBy, FirstScanID: nullPtr(f.FirstScanID), LastScanID: nullPtr(f.LastScanID),
	}
}

type findingPage struct {
	Items      []FindingView `json:"items"`
	NextCursor *string       `json:"next_cursor"`
}

func (s *Server) scanFindingsList(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return invalid("limit", "limit must be an integer from 1 to 500")
		}
		limit = n
	}
	params := dbq.FindingListByScanParams{ScanID: id, Lim: int32(limit + 1)}
	if v := q.Get("severity"); v != "" {
		if !findings.Severity(v).Valid() {
			return invalid("severity", "severity must be one of critical, high, medium, low, info")
		}
		params.Severity = &v
	}
	if v := q.Get("change"); v != "" {
		switch v {
		case "new", "open", "reopened", "fixed":
		default:
			return invalid("change", "change must be one of new, open, reopened, fixed")
		}
		params.Change = &v
	}
	if v := q.Get("cursor"); v != "" {
		after, err := decodeCursor(v)
		if err != nil {
			return invalid("cursor", "cursor is not one this API returned")
		}
		params.AfterID = uuid.NullUUID{UUID: after, Valid: true}
	}
	var rows []dbq.FindingListByScanRow
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		if _, err := db.Q.ScanGet(ctx, tx, id); err != nil {
			return err
		}
		rows, err = db.Q.FindingListByScan(ctx, tx, params)
		return err
	})
	if err != nil {
		return err
	}
	page := findingPage{Items: make([]FindingView, 0, len(rows))}
	if len(rows) > limit {
		rows = rows[:limit]
		cur := encodeCursor(rows[len(rows)-1].Finding.ID)
		page.NextCursor = &cur
	}
	for _, f := range rows {
		v := findingView(f.Finding)
		v.Change = f.Change
		page.Items = append(page.Items, v)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func encodeCursor(id uuid.UUID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func decodeCursor(s string) (uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return uuid.Nil, err
	}
	return uuid.FromBytes(b)
}

// Time-ordered keyset cursors: (created_at, id) of the last row served.
func encodeTimeCursor(ts time.Time, id uuid.UUID) string {
	b := make([]byte, 0, 24)
	b = binary.BigEndian.AppendUint64(b, uint64(ts.UnixMicro()))
	b = append(b, id[:]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeTimeCursor(s string) (time.Time, uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 24 {
		return time.Time{}, uuid.Nil, errors.New("bad cursor")
	}
	id, err := uuid.FromBytes(b[8:])
	return time.UnixMicro(int64(binary.BigEndian.Uint64(b[:8]))), id, err
}
