package findings

// Stored findings and their triage: the rules a person's decision on a
// finding follows, held once for the JSON API, the portal and (later) the
// triage process. Functions run inside the caller's scoped transaction.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/reach"
)

var q = dbq.New()

// Statuses are a finding's states.
var Statuses = []string{"new", "open", "fixed", "reopened", "false_positive", "accepted_risk"}

// TriageStatuses are the statuses a person may set; new and reopened are
// facts only scans establish.
var TriageStatuses = []string{"open", "false_positive", "accepted_risk", "fixed"}

// MaxCommentLen bounds a triage comment.
const MaxCommentLen = 4000

// MaxBulk bounds the findings one bulk triage moves.
const MaxBulk = 1000

// Stored is a finding as its tenant sees it: the normalised issue, where it
// was seen, and its triage state.
type Stored struct {
	ID               uuid.UUID
	TenantID         uuid.UUID
	Fingerprint      string
	Title            string
	Severity         Severity
	Status           string
	CVEs             []string
	CWEs             []int32
	CVSSScore        float64
	CVSSVector       string
	Component        string
	ComponentVersion string
	Host             string
	Port             int32
	Protocol         string
	URL              string
	Target           string
	Scanner          string
	RuleID           string
	Description      string
	Remediation      string
	References       []string
	Evidence         string
	FirstSeenAt      time.Time
	LastSeenAt       time.Time
	StatusChangedAt  time.Time
	FixedAt          *time.Time
	ScanTarget       string
	ReportedBy       string
	FirstScanID      *uuid.UUID
	LastScanID       *uuid.UUID
	// Exploit intelligence, priority (Priority) and deadline (SLADue); nil
	// until known.
	KEV            bool
	KEVDateAdded   *time.Time
	EPSS           *float64
	EPSSPercentile *float64
	Priority       *int
	SLADueAt       *time.Time
	// Reporters are the scanners that reported the finding, by name.
	Reporters []Reporter
}

// Reporter is one scanner's report of a finding: several scanners report a
// shared check (Canonical) as one finding, each with its own rule, title and
// evidence. Gone is true once a complete scan by that scanner no longer
// reported it; the finding is fixed when every reporter is gone.
type Reporter struct {
	Scanner    string     `json:"scanner"`
	RuleID     string     `json:"rule_id"`
	Title      string     `json:"title"`
	Severity   Severity   `json:"severity"`
	Evidence   string     `json:"evidence"`
	LastScanID *uuid.UUID `json:"last_scan_id"`
	Gone       bool       `json:"gone"`
}

// ParseReporters reads the findings.reporters column, sorted by scanner.
// Unreadable JSON gives no reporters rather than an error: the column is
// only ever written by the ingest and the migration.
func ParseReporters(raw []byte) []Reporter {
	var m map[string]Reporter
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return []Reporter{}
	}
	out := make([]Reporter, 0, len(m))
	for name, r := range m {
		r.Scanner = name
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Reporter) int { return strings.Compare(a.Scanner, b.Scanner) })
	return out
}

// FromRow is the domain's view of a stored finding.
func FromRow(f dbq.Finding) Stored {
	return Stored{
		ID: f.ID, TenantID: f.TenantID, Fingerprint: f.Fingerprint, Title: f.Title, Severity: Severity(f.Severity), Status: f.Status,
		CVEs: f.Cves, CWEs: f.Cwes, CVSSScore: f.CvssScore, CVSSVector: f.CvssVector,
		Component: f.Component, ComponentVersion: f.ComponentVersion, Host: f.Host, Port: f.Port,
		Protocol: f.Protocol, URL: f.Url, Target: f.Target, Scanner: f.Scanner, RuleID: f.RuleID,
		Description: f.Description, Remediation: f.Remediation, References: f.Refs, Evidence: f.Evidence,
		FirstSeenAt: f.FirstSeenAt, LastSeenAt: f.LastSeenAt, StatusChangedAt: f.StatusChangedAt, FixedAt: f.FixedAt,
		ScanTarget: f.ScanTarget, ReportedBy: f.ReportedBy, FirstScanID: nullable(f.FirstScanID), LastScanID: nullable(f.LastScanID),
		KEV: f.Kev, KEVDateAdded: dateOf(f.KevDateAdded), EPSS: float4Of(f.Epss), EPSSPercentile: float4Of(f.EpssPercentile),
		Priority: int2Of(f.Priority), SLADueAt: f.SlaDueAt, Reporters: ParseReporters(f.Reporters),
	}
}

func dateOf(d pgtype.Date) *time.Time {
	if !d.Valid {
		return nil
	}
	t := d.Time
	return &t
}

// float4Of widens a real without float32 noise (0.97 stays 0.97).
func float4Of(f pgtype.Float4) *float64 {
	if !f.Valid {
		return nil
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f.Float32), 'g', -1, 32), 64)
	return &v
}

func int2Of(i pgtype.Int2) *int {
	if !i.Valid {
		return nil
	}
	v := int(i.Int16)
	return &v
}

func nullable(n uuid.NullUUID) *uuid.UUID {
	if !n.Valid {
		return nil
	}
	id := n.UUID
	return &id
}

// Get reads a finding in scope; NotFound when it is missing or foreign.
func Get(ctx context.Context, tx dbq.DBTX, id uuid.UUID) (Stored, error) {
	f, err := q.FindingGet(ctx, tx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Stored{}, domainerr.Wrap(domainerr.NotFound, domainerr.ErrNotFound.Detail, err)
	}
	if err != nil {
		return Stored{}, err
	}
	if err := reach.Check(ctx, tx, f.TenantID); err != nil {
		return Stored{}, err
	}
	return FromRow(f), nil
}

// Decision is a person's triage of findings: the status to set, why, and who
// decided ("user:<id>", "apikey:<id>", "user:<id> as user:<id>").
type Decision struct {
	Status  string
	Comment string
	Actor   string
}

// Validate checks a decision's status and comment.
func (d Decision) Validate() error {
	if !slices.Contains(TriageStatuses, d.Status) {
		return domainerr.InvalidField("status", "status must be one of "+strings.Join(TriageStatuses, ", "))
	}
	if len(d.Comment) > MaxCommentLen {
		return domainerr.InvalidField("comment", fmt.Sprintf("comment must be at most %d characters", MaxCommentLen))
	}
	return nil
}

// Triaged is what a decision did to one finding.
type Triaged struct {
	Finding Stored
	From    string // the status before
	Changed bool   // whether the status moved (the event is recorded either way)
}

// Triage applies a decision to one finding: its status moves when it
// differs, and the event (with the comment) is recorded even when it stays.
// NotFound when the finding is missing or foreign.
func Triage(ctx context.Context, tx dbq.DBTX, id uuid.UUID, d Decision) (Triaged, error) {
	cur, err := q.FindingGetForUpdate(ctx, tx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Triaged{}, domainerr.Wrap(domainerr.NotFound, domainerr.ErrNotFound.Detail, err)
	}
	if err != nil {
		return Triaged{}, err
	}
	if err := reach.Check(ctx, tx, cur.TenantID); err != nil {
		return Triaged{}, err
	}
	f, changed := cur, cur.Status != d.Status
	if changed {
		if f, err = q.FindingSetStatus(ctx, tx, dbq.FindingSetStatusParams{ID: id, Status: d.Status}); err != nil {
			return Triaged{}, err
		}
	}
	if err := q.FindingEventAdd(ctx, tx, dbq.FindingEventAddParams{
		TenantID: cur.TenantID, FindingID: id, Actor: d.Actor, FromStatus: cur.Status, ToStatus: d.Status, Comment: d.Comment,
	}); err != nil {
		return Triaged{}, err
	}
	return Triaged{Finding: FromRow(f), From: cur.Status, Changed: changed}, nil
}

// ValidateBulk checks the ids of a bulk triage: 1 to MaxBulk, none twice.
func ValidateBulk(ids []uuid.UUID) error {
	if len(ids) == 0 || len(ids) > MaxBulk {
		return domainerr.InvalidField("ids", fmt.Sprintf("ids must list 1 to %d finding ids", MaxBulk))
	}
	seen := make(map[uuid.UUID]bool, len(ids))
	for i, id := range ids {
		if seen[id] {
			return domainerr.InvalidField(fmt.Sprintf("ids[%d]", i), "finding listed twice")
		}
		seen[id] = true
	}
	return nil
}

// TriageBulk applies one decision to every finding in ids, all or none: an
// unknown id is NotFound naming it, a refused one Forbidden naming it (the
// caller's transaction then rolls back). each runs after every finding (the caller's audit). It returns how
// many statuses moved.
func TriageBulk(ctx context.Context, tx dbq.DBTX, ids []uuid.UUID, d Decision, each func(uuid.UUID, Triaged) error) (int, error) {
	if err := ValidateBulk(ids); err != nil {
		return 0, err
	}
	changed := 0
	for _, id := range ids {
		t, err := Triage(ctx, tx, id, d)
		if domainerr.Is(err, domainerr.NotFound) {
			return 0, domainerr.Wrap(domainerr.NotFound, "finding "+id.String()+" not found; nothing was changed", err)
		}
		if e, ok := domainerr.As(err); ok && e.Kind == domainerr.Forbidden {
			return 0, domainerr.Wrap(domainerr.Forbidden, "finding "+id.String()+": "+e.Detail+"; nothing was changed", err)
		}
		if err != nil {
			return 0, err
		}
		if err := each(id, t); err != nil {
			return 0, err
		}
		if t.Changed {
			changed++
		}
	}
	return changed, nil
}

// Occurrence is one scan that saw (or fixed) a finding.
type Occurrence struct {
	ScanID    uuid.UUID
	Target    string
	Source    string
	Status    string // the scan's status
	Change    string // new, open, reopened, fixed
	Severity  string // as that scan reported it
	CreatedAt time.Time
}

// Event is one triage decision on a finding.
type Event struct {
	Actor      string
	FromStatus string
	ToStatus   string
	Comment    string
	CreatedAt  time.Time
}

// Detail is a finding with its history across scans (newest first) and its
// triage events.
type Detail struct {
	Finding     Stored
	Occurrences []Occurrence
	Events      []Event
}

// GetDetail reads a finding in scope with its history; NotFound otherwise.
func GetDetail(ctx context.Context, tx dbq.DBTX, id uuid.UUID) (Detail, error) {
	f, err := Get(ctx, tx, id)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Finding: f}
	occ, err := q.FindingOccurrences(ctx, tx, id)
	if err != nil {
		return Detail{}, err
	}
	d.Occurrences = make([]Occurrence, 0, len(occ))
	for _, o := range occ {
		d.Occurrences = append(d.Occurrences, Occurrence{ScanID: o.ScanID, Target: o.Target, Source: o.Source,
			Status: o.Status, Change: o.Change, Severity: o.Severity, CreatedAt: o.CreatedAt})
	}
	evs, err := q.FindingEvents(ctx, tx, id)
	if err != nil {
		return Detail{}, err
	}
	d.Events = make([]Event, 0, len(evs))
	for _, e := range evs {
		d.Events = append(d.Events, Event{Actor: e.Actor, FromStatus: e.FromStatus, ToStatus: e.ToStatus, Comment: e.Comment, CreatedAt: e.CreatedAt})
	}
	return d, nil
}

// Changes are what a scan can mean for a finding.
var Changes = []string{"new", "open", "reopened", "fixed"}

// InScan is a finding as one scan saw it.
type InScan struct {
	Stored
	Change string
}

// ScanFilter narrows a scan's findings; nil fields do not filter.
type ScanFilter struct {
	Severity *Severity // the severity this scan recorded
	Change   *string
}

// ListByScan returns up to limit of a scan's findings after the finding id
// after (keyset on id). Without a change filter the list is what the scan
// found, not what it fixed.
func ListByScan(ctx context.Context, tx dbq.DBTX, scanID uuid.UUID, f ScanFilter, after *uuid.UUID, limit int) ([]InScan, error) {
	params := dbq.FindingListByScanParams{ScanID: scanID, Change: f.Change, Lim: int32(limit)}
	if f.Severity != nil {
		s := string(*f.Severity)
		params.Severity = &s
	}
	if after != nil {
		params.AfterID = uuid.NullUUID{UUID: *after, Valid: true}
	}
	rows, err := q.FindingListByScan(ctx, tx, params)
	if err != nil {
		return nil, err
	}
	out := make([]InScan, len(rows))
	for i, r := range rows {
		out[i] = InScan{Stored: FromRow(r.Finding), Change: r.Change}
	}
	return out, nil
}
