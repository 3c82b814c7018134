package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/sla"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/findings"
)

// maxRange bounds a dashboard or usage period: a year, leap day included.
const maxRange = 366 * 24 * time.Hour

// defaultRangeDays is the period shown when none is asked for.
const defaultRangeDays = 30

// slaSeverities are the severities with a remediation deadline; info has none.
var slaSeverities = []string{"critical", "high", "medium", "low"}

// riskWeights rank targets: one critical outweighs a handful of lows.
var riskWeights = map[string]int64{"critical": 10, "high": 5, "medium": 2, "low": 1}

var allSeverities = []string{"critical", "high", "medium", "low", "info"}

// parseRange reads from and to as RFC 3339 times or UTC dates and returns
// the half-open period [from, to). A date as "to" includes that whole day.
// Without from, the period is the defaultRangeDays calendar days ending
// with to's day; without to, it ends now.
func parseRange(q url.Values, now time.Time) (from, to time.Time, err error) {
	parse := func(name string, end bool) (time.Time, error) {
		v := q.Get(name)
		if v == "" {
			return time.Time{}, nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.UTC(), nil
		}
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return time.Time{}, invalid(name, name+" must be an RFC 3339 time (2025-01-31T00:00:00Z) or a date (2025-01-31)")
		}
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	if from, err = parse("from", false); err != nil {
		return
	}
	if to, err = parse("to", true); err != nil {
		return
	}
	if to.IsZero() {
		to = now.UTC()
	}
	if from.IsZero() {
		from = startOfDay(to.Add(-time.Nanosecond)).AddDate(0, 0, 1-defaultRangeDays)
	}
	switch {
	case to.After(now.AddDate(1, 0, 0)):
		err = invalid("to", "to must not be more than a year from now")
	case from.Year() < 1970:
		err = invalid("from", "from must not be before 1970")
	case to.Before(from):
		err = invalid("to", "to must not be before from")
	case to.Sub(from) > maxRange:
		err = invalid("to", "the period from from to to must not exceed 366 days")
	}
	return
}

func startOfDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// DashboardView is GET /api/v1/dashboard: the acting tenant and its
// sub-tenants over [from, to).
type DashboardView struct {
	TenantID     uuid.UUID        `json:"tenant_id"`
	From         time.Time        `json:"from"`
	To           time.Time        `json:"to"`
	GeneratedAt  time.Time        `json:"generated_at"`
	OpenFindings openFindingsView `json:"open_findings"`
	Trend        []trendDay       `json:"trend"`
	MTTR         mttrView         `json:"mttr"`
	SLA          slaView          `json:"sla"`
	Scans        scanCountsView   `json:"scans"`
	Usage        usageSummaryView `json:"usage"`
	TopTargets   []targetRisk     `json:"top_targets"`
}

// openFindingsView counts findings still to fix: new, open and reopened.
type openFindingsView struct {
	Total      int64            `json:"total"`
	BySeverity map[string]int64 `json:"by_severity"`
}

// trendDay is one UTC day: findings first found, found again after a fix,
// and fixed that day.
type trendDay struct {
	Date     string `json:"date"`
	New      int64  `json:"new"`
	Reopened int64  `json:"reopened"`
	Fixed    int64  `json:"fixed"`
}

// mttrView is the mean time from first seen to fixed of the findings fixed
// in the period; hours is null when none were.
type mttrView struct {
	Fixed      int64                   `json:"fixed"`
	Hours      *float64                `json:"hours"`
	BySeverity map[string]mttrSeverity `json:"by_severity"`
}

type mttrSeverity struct {
	Fixed int64    `json:"fixed"`
	Hours *float64 `json:"hours"`
}

// slaView: an open finding is overdue once it has been open (since first
// seen) longer than its severity's SLA.
type slaView struct {
	Days       map[string]int         `json:"days"`
	Overrides  map[string]int         `json:"overrides"`
	BySeverity map[string]slaSeverity `json:"by_severity"`
}

type slaSeverity struct {
	Days              int      `json:"days"`
	Open              int64    `json:"open"`
	WithinSLA         int64    `json:"within_sla"`
	Overdue           int64    `json:"overdue"`
	OldestOverdueDays *float64 `json:"oldest_overdue_days"`
}

type scanCountsView struct {
	Total    int64            `json:"total"`
	ByStatus map[string]int64 `json:"by_status"`
	BySource map[string]int64 `json:"by_source"`
}

// usageSummaryView is consumption against the tier. Scans and scan time
// cover the whole scope; running and queued are the acting tenant's own,
// the scans its concurrency limit counts.
type usageSummaryView struct {
	Tier                string           `json:"tier"`
	ConcurrentScanLimit int              `json:"concurrent_scan_limit"`
	Running             int64            `json:"running"`
	Queued              int64            `json:"queued"`
	Scans               int64            `json:"scans"`
	ScanSeconds         float64          `json:"scan_seconds"`
	BySource            map[string]int64 `json:"by_source"`
}

type targetRisk struct {
	Target   string           `json:"target"`
	TargetID *uuid.UUID       `json:"target_id"`
	TenantID uuid.UUID        `json:"tenant_id"`
	Risk     int64            `json:"risk"`
	Open     map[string]int64 `json:"open"`
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

func zeroCounts(keys []string) map[string]int64 {
	m := make(map[string]int64, len(keys))
	for _, k := range keys {
		m[k] = 0
	}
	return m
}

// slaDays merges a tenant's stored override over the defaults. Values the
// PATCH could not have written are ignored rather than failing the page.
func slaDays(raw []byte) (days, overrides map[string]int) {
	var stored map[string]float64
	_ = json.Unmarshal(raw, &stored) // unreadable: the defaults
	days, overrides = map[string]int{}, map[string]int{}
	for sev, d := range findings.ParseSLADays(stored) {
		days[string(sev)] = d
	}
	for k, v := range stored {
		if findings.ValidSLADay(k, v) {
			overrides[strings.ToLower(k)] = int(v)
		}
	}
	return days, overrides
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	now := time.Now().UTC()
	from, to, err := parseRange(r.URL.Query(), now)
	if err := firstErr(requireTenant(a), err); err != nil {
		return err
	}
	v := DashboardView{TenantID: a.TenantID, From: from, To: to, GeneratedAt: now}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		ten, err := db.Q.DashboardTenant(ctx, tx, a.TenantID)
		if err != nil {
			return err
		}
		days, overrides := slaDays(ten.SlaDays)
		due := func(sev string) time.Time { return now.Add(-time.Duration(days[sev]) * 24 * time.Hour) }
		open, err := db.Q.DashboardOpenByTarget(ctx, tx, dbq.DashboardOpenByTargetParams{
			TenantIds:   a.Scope,
			CriticalDue: due("critical"), HighDue: due("high"), MediumDue: due("medium"), LowDue: due("low"),
		})
		if err != nil {
			return fmt.Errorf("open findings: %w", err)
		}
		v.OpenFindings, v.SLA = openAndSLA(bySeverity(open, now), days, overrides)

		fixed, err := db.Q.DashboardFixed(ctx, tx, dbq.DashboardFixedParams{TenantIds: a.Scope, FromTime: from, ToTime: to})
		if err != nil {
			return fmt.Errorf("fixed findings: %w", err)
		}
		diffs, err := db.Q.DashboardScanDiffs(ctx, tx, dbq.DashboardScanDiffsParams{TenantIds: a.Scope, FromTime: from, ToTime: to})
		if err != nil {
			return fmt.Errorf("scan diffs: %w", err)
		}
		v.Trend = trend(from, to, diffs, fixed)
		v.MTTR = mttr(fixed)

		scans, err := db.Q.DashboardScans(ctx, tx, dbq.DashboardScansParams{TenantIds: a.Scope, FromTime: from, ToTime: to})
		if err != nil {
			return fmt.Errorf("scans: %w", err)
		}
		v.Scans = scanCountsView{
			ByStatus: zeroCounts([]string{"queued", "running", "completed", "failed", "cancelled"}),
			BySource: zeroCounts([]string{"scan", "import"}),
		}
		for _, row := range scans {
			v.Scans.Total += row.Scans
			v.Scans.ByStatus[row.Status] += row.Scans
			v.Scans.BySource[row.Source] += row.Scans
		}

		active, err := db.Q.DashboardActiveScans(ctx, tx, a.TenantID)
		if err != nil {
			return fmt.Errorf("active scans: %w", err)
		}
		used, err := db.Q.UsageSummary(ctx, tx, dbq.UsageSummaryParams{TenantIds: a.Scope, FromTime: from, ToTime: to})
		if err != nil {
			return fmt.Errorf("usage: %w", err)
		}
		limit := s.ScanLimits.Of(ten.Tier) // what the scan gate enforces
		v.Usage = usageSummaryView{
			Tier: ten.Tier, ConcurrentScanLimit: limit, Running: active.Running, Queued: active.Queued,
			Scans: used.Scans, ScanSeconds: float64(used.DurationMs) / 1000,
			BySource: map[string]int64{"scan": used.ScanSource, "import": used.ImportSource},
		}

		v.TopTargets = topTargets(open, 5)
		if len(v.TopTargets) == 0 {
			return nil
		}
		vals := make([]string, len(v.TopTargets))
		for i, t := range v.TopTargets {
			vals[i] = t.Target
		}
		ids, err := db.Q.DashboardTargetIDs(ctx, tx, dbq.DashboardTargetIDsParams{TenantIds: a.Scope, Vals: vals})
		if err != nil {
			return fmt.Errorf("top targets: %w", err)
		}
		for i := range v.TopTargets {
			for _, id := range ids {
				if id.TenantID == v.TopTargets[i].TenantID && id.Value == v.TopTargets[i].Target {
					v.TopTargets[i].TargetID = &id.ID
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// severityOpen is one severity's open findings, how many are past their
// SLA, and how old the oldest one is.
type severityOpen struct {
	Severity         string
	Open, Overdue    int64
	OldestAgeSeconds float64
}

// bySeverity folds the per-target open counts into one row per severity.
func bySeverity(rows []dbq.DashboardOpenByTargetRow, now time.Time) []severityOpen {
	idx := map[string]int{}
	var out []severityOpen
	oldest := map[string]time.Time{}
	for _, r := range rows {
		i, ok := idx[r.Severity]
		if !ok {
			i = len(out)
			idx[r.Severity] = i
			out = append(out, severityOpen{Severity: r.Severity})
		}
		out[i].Open += r.Open
		out[i].Overdue += r.Overdue
		if o, ok := oldest[r.Severity]; !ok || r.OldestSeen.Before(o) {
			oldest[r.Severity] = r.OldestSeen
		}
	}
	for i := range out {
		out[i].OldestAgeSeconds = now.Sub(oldest[out[i].Severity]).Seconds()
	}
	return out
}

// riskWeight is what an open finding of a severity adds to its target's risk.
var riskWeight = map[string]int64{"critical": 10, "high": 5, "medium": 2, "low": 1}

// topTargets ranks scan targets by weighted open findings, then by
// criticals, highs, name and tenant; targets with no risk are left out.
func topTargets(rows []dbq.DashboardOpenByTargetRow, n int) []targetRisk {
	type key struct {
		tenant uuid.UUID
		target string
	}
	by := map[key]*targetRisk{}
	for _, r := range rows {
		k := key{r.TenantID, r.ScanTarget}
		t, ok := by[k]
		if !ok {
			t = &targetRisk{Target: r.ScanTarget, TenantID: r.TenantID, Open: zeroCounts(allSeverities)}
			by[k] = t
		}
		t.Open[r.Severity] += r.Open
		t.Risk += riskWeight[r.Severity] * r.Open
	}
	out := make([]targetRisk, 0, len(by))
	for _, t := range by {
		if t.Risk > 0 {
			out = append(out, *t)
		}
	}
	slices.SortFunc(out, func(a, b targetRisk) int {
		return cmp.Or(
			cmp.Compare(b.Risk, a.Risk), cmp.Compare(b.Open["critical"], a.Open["critical"]),
			cmp.Compare(b.Open["high"], a.Open["high"]), cmp.Compare(a.Target, b.Target),
			cmp.Compare(a.TenantID.String(), b.TenantID.String()))
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func openAndSLA(rows []severityOpen, days, overrides map[string]int) (openFindingsView, slaView) {
	open := openFindingsView{BySeverity: zeroCounts(allSeverities)}
	sla := slaView{Days: days, Overrides: overrides, BySeverity: map[string]slaSeverity{}}
	for _, sev := range slaSeverities {
		sla.BySeverity[sev] = slaSeverity{Days: days[sev]}
	}
	for _, row := range rows {
		open.Total += row.Open
		open.BySeverity[row.Severity] += row.Open
		st, ok := sla.BySeverity[row.Severity]
		if !ok {
			continue
		}
		st.Open, st.Overdue, st.WithinSLA = row.Open, row.Overdue, row.Open-row.Overdue
		if row.Overdue > 0 {
			d := round2(row.OldestAgeSeconds / 86400)
			st.OldestOverdueDays = &d
		}
		sla.BySeverity[row.Severity] = st
	}
	return open, sla
}

// trend has one entry per UTC day the period touches, zeros included.
func trend(from, to time.Time, diffs []dbq.DashboardScanDiffsRow, fixed []dbq.DashboardFixedRow) []trendDay {
	out := []trendDay{}
	if !to.After(from) {
		return out
	}
	index := map[string]int{}
	for d := startOfDay(from); d.Before(to); d = d.AddDate(0, 0, 1) {
		key := d.Format(time.DateOnly)
		index[key] = len(out)
		out = append(out, trendDay{Date: key})
	}
	for _, row := range diffs {
		if i, ok := index[row.Day]; ok {
			out[i].New += row.New
			out[i].Reopened += row.Reopened
		}
	}
	for _, row := range fixed {
		if i, ok := index[row.Day]; ok {
			out[i].Fixed += row.Fixed
		}
	}
	return out
}

func mttr(rows []dbq.DashboardFixedRow) mttrView {
	hours := func(seconds float64, n int64) *float64 {
		if n == 0 {
			return nil
		}
		h := round2(seconds / float64(n) / 3600)
		return &h
	}
	v := mttrView{BySeverity: map[string]mttrSeverity{}}
	seconds := map[string]float64{}
	fixed := zeroCounts(allSeverities)
	var total float64
	for _, row := range rows {
		fixed[row.Severity] += row.Fixed
		seconds[row.Severity] += row.OpenSeconds
		v.Fixed += row.Fixed
		total += row.OpenSeconds
	}
	for _, sev := range allSeverities {
		v.BySeverity[sev] = mttrSeverity{Fixed: fixed[sev], Hours: hours(seconds[sev], fixed[sev])}
	}
	v.Hours = hours(total, v.Fixed)
	return v
}

// ---- SLA override ----

// slaPatchRequest is a JSON merge patch of the tenant's SLA days: a number
// sets a severity's deadline, null returns it to the default, and an
// absent severity is left as it is.
type slaPatchRequest struct {
	Critical json.RawMessage `json:"critical"`
	High     json.RawMessage `json:"high"`
	Medium   json.RawMessage `json:"medium"`
	Low      json.RawMessage `json:"low"`
}

func (s *Server) dashboardSLAPatch(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req slaPatchRequest
	if err := firstErr(requireTenant(a), func() error { return decodeJSON(r, &req, 4<<10) }); err != nil {
		return err
	}
	patch := map[string]*int{}
	for sev, raw := range map[string]json.RawMessage{"critical": req.Critical, "high": req.High, "medium": req.Medium, "low": req.Low} {
		if raw == nil {
			continue
		}
		var n *int
		if err := json.Unmarshal(raw, &n); err != nil || (n != nil && (*n < 1 || *n > 365)) {
			return invalid(sev, sev+" must be a whole number of days from 1 to 365, or null for the default")
		}
		patch[sev] = n
	}
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	var stored []byte
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		stored, err = db.Q.TenantPatchSLADays(ctx, tx, dbq.TenantPatchSLADaysParams{TenantID: a.TenantID, Patch: body})
		if err != nil {
			return err
		}
		if stored == nil {
			return errNotFound
		}
		// The open findings' deadlines follow the new days at once.
		if _, err := db.RecomputeSLA(ctx, tx, a.TenantID); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "tenant.sla_updated", "tenant", a.TenantID.String(), patch)
	})
	if err != nil {
		return err
	}
	// The tenant's SLA timers look at the new deadlines now (best effort: they
	// also look daily, and the housekeeping starts a missing one).
	if s.Temporal != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		defer cancel()
		if err := sla.DeadlinesChanged(ctx, s.Temporal, a.TenantID); err != nil {
			s.logErr(r, "signal the SLA timers", err)
		}
	}
	days, overrides := slaDays(stored)
	writeJSON(w, http.StatusOK, map[string]any{"days": days, "overrides": overrides})
	return nil
}

// ---- usage ----

// UsageEventView is one scan's billing record.
type UsageEventView struct {
	ID         uuid.UUID  `json:"id"`
	TenantID   uuid.UUID  `json:"tenant_id"`
	ScanID     uuid.UUID  `json:"scan_id"`
	Source     string     `json:"source"`
	Scanners   []string   `json:"scanners"`
	Target     string     `json:"target"`
	Status     string     `json:"status"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt time.Time  `json:"finished_at"`
	DurationMS int64      `json:"duration_ms"`
	Findings   int32      `json:"findings"`
	CreatedAt  time.Time  `json:"created_at"`
}

func (s *Server) usageList(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	from, to, rerr := parseRange(q, time.Now())
	if err := firstErr(requireTenant(a), err, rerr); err != nil {
		return err
	}
	params := dbq.UsageEventListParams{FromTime: from, ToTime: to, Lim: int32(limit + 1)}
	if v := q.Get("cursor"); v != "" {
		ts, id, err := decodeTimeCursor(v)
		if err != nil {
			return errCursor
		}
		params.BeforeCreated, params.BeforeID = &ts, uuid.NullUUID{UUID: id, Valid: true}
	}
	var rows []dbq.UsageEvent
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		params.TenantIds = a.Scope
		rows, err = db.Q.UsageEventList(ctx, tx, params)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(rows, limit,
		func(e dbq.UsageEvent) string { return encodeTimeCursor(e.CreatedAt, e.ID) },
		func(e dbq.UsageEvent) UsageEventView {
			return UsageEventView{
				ID: e.ID, TenantID: e.TenantID, ScanID: e.ScanID, Source: e.Source, Scanners: e.Scanners, Target: e.Target,
				Status: e.Status, StartedAt: e.StartedAt, FinishedAt: e.FinishedAt, DurationMS: e.DurationMs,
				Findings: e.Findings, CreatedAt: e.CreatedAt,
			}
		}))
	return nil
}
