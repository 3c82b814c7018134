package api

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/targets"
)

func (s *Server) findingList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return err
	}
	f := db.FindingFilter{Limit: limit, Sort: q.Get("sort"), Cursor: q.Get("cursor"),
		Scanner: q.Get("scanner"), CVE: q.Get("cve"), Text: q.Get("q"), Host: q.Get("host")}
	if f.Text == "" {
		f.Text = q.Get("text")
	}
	for _, v := range multi(q, "severity") {
		if !findings.Severity(v).Valid() {
			return invalid("severity", "severity must be one or more of critical, high, medium, low, info")
		}
		f.Severities = append(f.Severities, v)
	}
	for _, v := range multi(q, "status") {
		if !slices.Contains(findings.Statuses, v) {
			return invalid("status", "status must be one or more of "+strings.Join(findings.Statuses, ", "))
		}
		f.Statuses = append(f.Statuses, v)
	}
	if f.Sort != "" {
		if _, ok := db.FindingSorts[strings.TrimPrefix(f.Sort, "-")]; !ok {
			return invalid("sort", "sort must be one of last_seen_at, first_seen_at, severity, cvss_score, priority, epss, optionally prefixed with - for descending")
		}
	}
	switch v := q.Get("kev"); v {
	case "":
	case "true", "false":
		kev := v == "true"
		f.KEV = &kev
	default:
		return invalid("kev", "kev must be true or false")
	}
	if v := q.Get("epss_min"); v != "" {
		m, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(m) || m < 0 || m > 1 {
			return invalid("epss_min", "epss_min must be a number from 0 to 1")
		}
		f.EPSSMin = &m
	}
	switch v := q.Get("sla"); v {
	case "", db.SLAOverdue, db.SLADueSoon:
		f.SLA = v
	default:
		return invalid("sla", "sla must be overdue or due_soon")
	}
	if len(f.CVE) > 64 || len(f.Text) > 200 || len(f.Scanner) > 64 {
		return invalid("q", "filters are limited to 200 characters (cve and scanner to 64)")
	}
	targetID := q.Get("target_id")
	if v := q.Get("target"); v != "" {
		t, err := targets.Parse(v)
		if err != nil {
			return invalid("target", err.Error())
		}
		f.ScanTarget = t.String()
	}
	var rows []dbq.Finding
	var next string
	var tri map[uuid.UUID]*TriageView
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if !scopeOf(a).PlatformAdmin {
			f.TenantIDs = a.Scope
		}
		if targetID != "" {
			id, err := uuid.Parse(targetID)
			if err != nil {
				return invalid("target_id", "target_id must be a UUID")
			}
			t, err := targets.Get(ctx, tx, id)
			if domainerr.Is(err, domainerr.NotFound) {
				return invalid("target_id", "no target with this id")
			} else if err != nil {
				return err
			}
			f.ScanTarget = t.Value
		}
		var err error
		rows, next, err = db.ListFindings(ctx, tx, f)
		if errors.Is(err, db.ErrBadCursor) {
			return invalid("cursor", "cursor is not one this API returned for this sort")
		}
		if err != nil {
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
	page := findingPage{Items: make([]FindingView, 0, len(rows))}
	if next != "" {
		page.NextCursor = &next
	}
	for _, f := range rows {
		v := findingView(findings.FromRow(f))
		v.Triage = tri[f.ID]
		page.Items = append(page.Items, v)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

type findingDetail struct {
	FindingView
	Occurrences []occurrenceView `json:"occurrences"`
	Events      []eventView      `json:"events"`
}

type occurrenceView struct {
	ScanID    uuid.UUID `json:"scan_id"`
	Target    string    `json:"target"`
	Source    string    `json:"source"`
	Status    string    `json:"scan_status"`
	Change    string    `json:"change"`
	Severity  string    `json:"severity"`
	CreatedAt time.Time `json:"created_at"`
}

type eventView struct {
	Actor      string    `json:"actor"`
	FromStatus string    `json:"from_status"`
	ToStatus   string    `json:"to_status"`
	Comment    string    `json:"comment"`
	CreatedAt  time.Time `json:"created_at"`
}

func (s *Server) findingGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var d findings.Detail
	var tri map[uuid.UUID]*TriageView
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		if d, err = findings.GetDetail(ctx, tx, id); err != nil {
			return err
		}
		tri, err = latestTriage(ctx, tx, []uuid.UUID{id})
		return err
	})
	if err != nil {
		return err
	}
	v := findingDetail{FindingView: findingView(d.Finding),
		Occurrences: make([]occurrenceView, 0, len(d.Occurrences)), Events: make([]eventView, 0, len(d.Events))}
	v.Triage = tri[id]
	for _, o := range d.Occurrences {
		v.Occurrences = append(v.Occurrences, occurrenceView{ScanID: o.ScanID, Target: o.Target, Source: o.Source,
			Status: o.Status, Change: o.Change, Severity: o.Severity, CreatedAt: o.CreatedAt})
	}
	for _, e := range d.Events {
		v.Events = append(v.Events, eventView{Actor: e.Actor, FromStatus: e.FromStatus, ToStatus: e.ToStatus, Comment: e.Comment, CreatedAt: e.CreatedAt})
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

type findingPatch struct {
	Status  string `json:"status"`
	Comment string `json:"comment"`
}

// auditTriage records one finding's triage in the audit log.
func auditTriage(ctx context.Context, tx pgx.Tx, r *http.Request, a *auth.Access, d findings.Decision, t findings.Triaged) error {
	return audit(ctx, tx, r, a, t.Finding.TenantID, "finding.triaged", "finding", t.Finding.ID.String(),
		map[string]any{"from": t.From, "to": d.Status, "comment": d.Comment})
}

func (s *Server) findingPatch(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var p findingPatch
	if err := decodeJSON(r, &p, 16<<10); err != nil {
		return err
	}
	d := findings.Decision{Status: p.Status, Comment: p.Comment}
	if err := d.Validate(); err != nil {
		return err
	}
	var t findings.Triaged
	var tri map[uuid.UUID]*TriageView
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		d.Actor = actorOf(a)
		if t, err = findings.Triage(ctx, tx, id, d); err != nil {
			return err
		}
		if tri, err = latestTriage(ctx, tx, []uuid.UUID{id}); err != nil {
			return err
		}
		return auditTriage(ctx, tx, r, a, d, t)
	})
	if err != nil {
		return err
	}
	v := findingView(t.Finding)
	v.Triage = tri[id]
	writeJSON(w, http.StatusOK, v)
	return nil
}

type bulkPatch struct {
	IDs     []uuid.UUID `json:"ids"`
	Status  string      `json:"status"`
	Comment string      `json:"comment"`
}

// findingBulkPatch triages up to 1000 findings atomically: all move or none
// (an unknown id answers 404 naming it, and nothing changes).
func (s *Server) findingBulkPatch(w http.ResponseWriter, r *http.Request) error {
	var b bulkPatch
	if err := decodeJSON(r, &b, 256<<10); err != nil {
		return err
	}
	d := findings.Decision{Status: b.Status, Comment: b.Comment}
	if err := d.Validate(); err != nil {
		return err
	}
	if err := findings.ValidateBulk(b.IDs); err != nil {
		return err
	}
	changed := 0
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		d.Actor = actorOf(a)
		var err error
		changed, err = findings.TriageBulk(ctx, tx, b.IDs, d, func(_ uuid.UUID, t findings.Triaged) error {
			return auditTriage(ctx, tx, r, a, d, t)
		})
		return err
	})
	if err != nil {
		return err
	}
	// updated: findings whose status changed; the rest already had it (their
	// comment is recorded all the same).
	writeJSON(w, http.StatusOK, map[string]any{"updated": changed, "unchanged": len(b.IDs) - changed, "status": d.Status})
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
	// Exploit intelligence and remediation order: in CISA's KEV catalogue
	// (and since when), FIRST's EPSS score and percentile of its most likely
	// exploited CVE, its priority (0–100) and its SLA deadline.
	KEV            bool       `json:"kev"`
	KEVDateAdded   *string    `json:"kev_date_added"`
	EPSS           *float64   `json:"epss"`
	EPSSPercentile *float64   `json:"epss_percentile"`
	Priority       *int       `json:"priority"`
	SLADueAt       *time.Time `json:"sla_due_at"`
	// Triage is the finding's latest triage decision (rules, model or
	// analyst; null before its first triage).
	Triage *TriageView `json:"triage"`
	// Reporters are the scanners that reported the finding (one issue
	// reported by several scanners is one finding), each with its own rule,
	// title and evidence.
	Reporters []ReporterView `json:"reporters"`
	// Change is what the listed scan meant for the finding (scan listings only).
	Change string `json:"change,omitempty"`
}

// ReporterView is one scanner's report of a finding.
type ReporterView struct {
	Scanner    string     `json:"scanner"`
	RuleID     string     `json:"rule_id"`
	Title      string     `json:"title"`
	Severity   string     `json:"severity"`
	Evidence   string     `json:"evidence"`
	LastScanID *uuid.UUID `json:"last_scan_id"`
	Gone       bool       `json:"gone"`
}

func findingView(f findings.Stored) FindingView {
	return FindingView{
		ID: f.ID, Fingerprint: f.Fingerprint, Title: f.Title, Severity: string(f.Severity), Status: f.Status,
		CVEs: f.CVEs, CWEs: f.CWEs, CVSSScore: f.CVSSScore, CVSSVector: f.CVSSVector,
		Component: f.Component, ComponentVersion: f.ComponentVersion, Host: f.Host, Port: f.Port,
		Protocol: f.Protocol, URL: f.URL, Target: f.Target, Scanner: f.Scanner, RuleID: f.RuleID,
		Description: f.Description, Remediation: f.Remediation, References: f.References, Evidence: f.Evidence,
		FirstSeenAt: f.FirstSeenAt, LastSeenAt: f.LastSeenAt, StatusChangedAt: f.StatusChangedAt, FixedAt: f.FixedAt,
		ScanTarget: f.ScanTarget, ReportedBy: f.ReportedBy, FirstScanID: f.FirstScanID, LastScanID: f.LastScanID,
		KEV: f.KEV, KEVDateAdded: dateString(f.KEVDateAdded), EPSS: f.EPSS, EPSSPercentile: f.EPSSPercentile,
		Priority: f.Priority, SLADueAt: f.SLADueAt, Reporters: reporterViews(f.Reporters),
	}
}

func reporterViews(rs []findings.Reporter) []ReporterView {
	out := make([]ReporterView, len(rs))
	for i, r := range rs {
		out[i] = ReporterView{Scanner: r.Scanner, RuleID: r.RuleID, Title: r.Title, Severity: string(r.Severity),
			Evidence: r.Evidence, LastScanID: r.LastScanID, Gone: r.Gone}
	}
	return out
}

// dateString writes a calendar date as YYYY-MM-DD.
func dateString(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.Format(time.DateOnly)
	return &s
}

type findingPage = page[FindingView]
