package api

import (
	"context"
	"encoding/base64"
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
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/activities/scanner"
	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/workflows/scan"
)

type scanCreateRequest struct {
	Target   string   `json:"target"`
	Scanners []string `json:"scanners"`
}

type scanCreateResponse struct {
	ID         uuid.UUID `json:"id"`
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
			return &ValidationError{Detail: "the body must be a JSON object"}
		case errors.Is(err, io.EOF):
			return &ValidationError{Detail: "the body is empty; a JSON object is required"}
		case errors.As(err, &se):
			return &ValidationError{Detail: fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)}
		case errors.As(err, &te):
			return invalid(te.Field, fmt.Sprintf("%s must be %s", te.Field, te.Type))
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return &ValidationError{Detail: err.Error()}
		default:
			return &ValidationError{Detail: "malformed JSON: " + err.Error()}
		}
	}
	if dec.More() {
		return &ValidationError{Detail: "unexpected data after the JSON object"}
	}
	return nil
}

func (s *Server) scanCreate(w http.ResponseWriter, r *http.Request) {
	var req scanCreateRequest
	if err := decodeJSON(r, &req, 64<<10); err != nil {
		writeError(w, r, err)
		return
	}
	t, err := targets.Parse(req.Target)
	if err != nil {
		writeError(w, r, invalid("target", err.Error()))
		return
	}
	if req.Scanners == nil {
		req.Scanners = []string{"nmap"}
	} else if len(req.Scanners) == 0 {
		writeError(w, r, invalid("scanners", "scanners must list at least one scanner (or be omitted for nmap)"))
		return
	}
	seen := map[string]bool{}
	for i, sc := range req.Scanners {
		if !scanner.Known[sc] {
			writeError(w, r, invalid(fmt.Sprintf("scanners[%d]", i), fmt.Sprintf("unknown scanner %q", sc)))
			return
		}
		if seen[sc] {
			writeError(w, r, invalid(fmt.Sprintf("scanners[%d]", i), fmt.Sprintf("scanner %q listed twice", sc)))
			return
		}
		seen[sc] = true
	}
	// Fast feedback for literal addresses; names are checked after resolution
	// inside the scan itself, which is the check that cannot be bypassed.
	if ip, err := netip.ParseAddr(t.Host); err == nil {
		if err := s.Policy.Check(ip); err != nil {
			writeError(w, r, statusErr(http.StatusUnprocessableEntity, err.Error()))
			return
		}
	}

	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		writeError(w, r, err)
		return
	}
	if len(t.String()) > 2048 {
		writeError(w, r, invalid("target", "the target is longer than 2048 characters once normalised"))
		return
	}
	id := uuid.New()
	in := scan.Input{TenantID: a.TenantID, ScanID: id, Target: t.String(), Scanners: req.Scanners}
	wid := scan.WorkflowID(id)
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if _, err := db.Q.ScanCreate(ctx, tx, dbq.ScanCreateParams{
			ID: id, TenantID: a.TenantID, Target: in.Target, Scanners: in.Scanners, WorkflowID: wid,
		}); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "scan.started", "scan", id.String(), map[string]any{"target": in.Target, "scanners": in.Scanners})
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	// The start must not be abandoned half-way because the client hung up:
	// the row already exists and would otherwise wait for a workflow forever.
	startCtx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 15*time.Second)
	defer cancel()
	_, err = s.Temporal.ExecuteWorkflow(startCtx, client.StartWorkflowOptions{
		ID:                       wid,
		TaskQueue:                temporalx.QueueScans,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(a.TenantID.String()),
			temporalx.SAKind.ValueSet("scan"),
			// Keyword attributes are VARCHAR(255) in SQL visibility stores.
			temporalx.SAScanTarget.ValueSet(truncateUTF8(in.Target, 255)),
		),
	}, scan.WorkflowName, in)
	if err != nil {
		// A timeout can hide a start that succeeded: ask before giving up.
		if _, derr := s.Temporal.DescribeWorkflowExecution(startCtx, wid, ""); derr == nil {
			err = nil
		}
	}
	if err != nil {
		// The row must not stay queued forever for a workflow that never began.
		_ = s.DB.InTx(context.WithoutCancel(r.Context()), db.TenantScope(a.TenantID), func(ctx context.Context, tx pgx.Tx) error {
			msg := "could not start the scan workflow"
			_, err := db.Q.ScanFinish(ctx, tx, dbq.ScanFinishParams{ID: id, Status: "failed", Error: &msg})
			return err
		})
		s.logErr(r, "start scan workflow", err)
		writeError(w, r, statusErr(http.StatusServiceUnavailable, "the scan could not be started; try again shortly"))
		return
	}
	w.Header().Set("Location", "/api/v1/scans/"+id.String())
	writeJSON(w, http.StatusAccepted, scanCreateResponse{ID: id, WorkflowID: wid, Status: "queued"})
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
		ID: sc.ID, TenantID: sc.TenantID, Target: sc.Target, Scanners: sc.Scanners, Status: sc.Status,
		Progress: int(sc.Progress), ProgressMessage: sc.ProgressMessage, WorkflowID: sc.WorkflowID,
		Error: sc.Error, CreatedAt: sc.CreatedAt, StartedAt: sc.StartedAt, FinishedAt: sc.FinishedAt,
		Counts: counts, FindingsTotal: total,
	}
}

func pathUUID(r *http.Request, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(chi.URLParam(r, name))
	if err != nil {
		return uuid.Nil, invalid(name, name+" must be a UUID")
	}
	return id, nil
}

func (s *Server) scanGet(w http.ResponseWriter, r *http.Request) {
	id, err := pathUUID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var sc dbq.Scan
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		sc, err = db.Q.ScanGet(ctx, tx, id)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, scanView(sc))
}

// FindingView is the API representation of a finding.
type FindingView struct {
	ID               uuid.UUID `json:"id"`
	Fingerprint      string    `json:"fingerprint"`
	Title            string    `json:"title"`
	Severity         string    `json:"severity"`
	Status           string    `json:"status"`
	CVEs             []string  `json:"cves"`
	CWEs             []int32   `json:"cwes"`
	CVSSScore        float64   `json:"cvss_score"`
	CVSSVector       string    `json:"cvss_vector"`
	Component        string    `json:"component"`
	ComponentVersion string    `json:"component_version"`
	Host             string    `json:"host"`
	Port             int32     `json:"port"`
	Protocol         string    `json:"protocol"`
	URL              string    `json:"url"`
	Target           string    `json:"target"`
	Scanner          string    `json:"scanner"`
	RuleID           string    `json:"rule_id"`
	Description      string    `json:"description"`
	Remediation      string    `json:"remediation"`
	References       []string  `json:"references"`
	Evidence         string    `json:"evidence"`
	FirstSeenAt      time.Time `json:"first_seen_at"`
	LastSeenAt       time.Time `json:"last_seen_at"`
}

func findingView(f dbq.Finding) FindingView {
	return FindingView{
		ID: f.ID, Fingerprint: f.Fingerprint, Title: f.Title, Severity: f.Severity, Status: f.Status,
		CVEs: f.Cves, CWEs: f.Cwes, CVSSScore: f.CvssScore, CVSSVector: f.CvssVector,
		Component: f.Component, ComponentVersion: f.ComponentVersion, Host: f.Host, Port: f.Port,
		Protocol: f.Protocol, URL: f.Url, Target: f.Target, Scanner: f.Scanner, RuleID: f.RuleID,
		Description: f.Description, Remediation: f.Remediation, References: f.Refs, Evidence: f.Evidence,
		FirstSeenAt: f.FirstSeenAt, LastSeenAt: f.LastSeenAt,
	}
}

type findingPage struct {
	Items      []FindingView `json:"items"`
	NextCursor *string       `json:"next_cursor"`
}

func (s *Server) scanFindingsList(w http.ResponseWriter, r *http.Request) {
	id, err := pathUUID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, r, invalid("limit", "limit must be an integer from 1 to 500"))
			return
		}
		limit = n
	}
	params := dbq.FindingListByScanParams{ScanID: id, Lim: int32(limit + 1)}
	if v := q.Get("severity"); v != "" {
		if !findings.Severity(v).Valid() {
			writeError(w, r, invalid("severity", "severity must be one of critical, high, medium, low, info"))
			return
		}
		params.Severity = &v
	}
	if v := q.Get("cursor"); v != "" {
		after, err := decodeCursor(v)
		if err != nil {
			writeError(w, r, invalid("cursor", "cursor is not one this API returned"))
			return
		}
		params.AfterID = uuid.NullUUID{UUID: after, Valid: true}
	}
	var rows []dbq.Finding
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		if _, err := db.Q.ScanGet(ctx, tx, id); err != nil {
			return err
		}
		rows, err = db.Q.FindingListByScan(ctx, tx, params)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	page := findingPage{Items: make([]FindingView, 0, len(rows))}
	if len(rows) > limit {
		rows = rows[:limit]
		cur := encodeCursor(rows[len(rows)-1].ID)
		page.NextCursor = &cur
	}
	for _, f := range rows {
		page.Items = append(page.Items, findingView(f))
	}
	writeJSON(w, http.StatusOK, page)
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func encodeCursor(id uuid.UUID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func decodeCursor(s string) (uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return uuid.Nil, err
	}
	return uuid.FromBytes(b)
}
