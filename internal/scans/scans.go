// Package scans holds the rules of a scan, once, for the JSON API, the portal
// and the activities: which scanners fit which target, how many scans a tier
// may run at once, whether a scan may start (its target registered and
// proven), and how a scan is created. Every function that touches the
// database runs inside the caller's scoped transaction (db.InTx).
//
// Shape (after ardanlabs/service business/domain/userbus): domain types of
// its own, functions over a dbq.DBTX, domain errors (internal/domainerr) for
// every rule a caller can break; driver errors become domain errors at the
// db edge.
package scans

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/keyset"
	"github.com/secureops/secureops/internal/reach"
	"github.com/secureops/secureops/internal/targets"
)

var q = dbq.New()

// Known lists the scanners a worker can run: the Scan contract's list, which
// workflows read too. Whether a worker has a scanner's binary is only known
// on that worker, which reports a missing one.
var Known = scan.Known

// ImageScanner is the one scanner for container images.
const ImageScanner = "trivy"

// KindMismatch is a scanner asked to scan a kind of target it cannot: trivy
// reads an image from its registry, every other scanner connects to a host.
type KindMismatch struct {
	Scanner string
	Kind    targets.Kind
}

func (e *KindMismatch) Error() string {
	if e.Scanner == ImageScanner {
		return "trivy scans container images; register the image as a target of kind image"
	}
	return fmt.Sprintf("scanner %q cannot scan a container image; use trivy", e.Scanner)
}

// FitsKind is the rule that keeps image targets and network scanners apart.
func FitsKind(scanner string, kind targets.Kind) *KindMismatch {
	if (scanner == ImageScanner) != (kind == targets.KindImage) {
		return &KindMismatch{Scanner: scanner, Kind: kind}
	}
	return nil
}

// DefaultScanners is what a target of kind gets when a request names none.
func DefaultScanners(kind targets.Kind) []string {
	if kind == targets.KindImage {
		return []string{ImageScanner}
	}
	return []string{"nmap"}
}

// ScannersFor validates the requested scanners for a target kind (nil: the
// kind's default). Errors name the field: scanners[i].
func ScannersFor(kind targets.Kind, req []string) ([]string, error) {
	if req == nil {
		return DefaultScanners(kind), nil
	}
	if len(req) == 0 {
		return nil, domainerr.InvalidField("scanners", "scanners must list at least one scanner (or be omitted for the default)")
	}
	seen := map[string]bool{}
	for i, sc := range req {
		field := fmt.Sprintf("scanners[%d]", i)
		switch {
		case !Known[sc]:
			return nil, domainerr.InvalidField(field, fmt.Sprintf("unknown scanner %q", sc))
		case seen[sc]:
			return nil, domainerr.InvalidField(field, fmt.Sprintf("scanner %q listed twice", sc))
		}
		if err := FitsKind(sc, kind); err != nil {
			return nil, domainerr.InvalidField(field, err.Error())
		}
		seen[sc] = true
	}
	return req, nil
}

// Limits maps a tier to the scans its tenants may run at once
// (config.ScanLimits).
type Limits map[string]int

// Of is the tier's concurrent scans; at least one, so no tier waits forever.
func (l Limits) Of(tier string) int {
	if n := l[tier]; n > 0 {
		return n
	}
	return 1
}

// TenantLimit reads the tenant's tier and its concurrent scans.
func TenantLimit(ctx context.Context, tx dbq.DBTX, l Limits, tenant uuid.UUID) (tier string, limit int, err error) {
	ten, err := q.TenantGet(ctx, tx, tenant)
	if err != nil {
		return "", 0, fmt.Errorf("load tenant: %w", err)
	}
	return ten.Tier, l.Of(ten.Tier), nil
}

// Gate is the concurrency gate a tenant's scans queue at: its tree's root,
// the paying tenant, whose plan's limit every sub-tenant shares, so a tree of
// ten sub-tenants does not run ten times the plan.
type Gate struct {
	TenantID uuid.UUID
	Tier     string
	Limit    int
}

// GateOf finds the gate of tenant's scans.
func GateOf(ctx context.Context, tx dbq.DBTX, l Limits, tenant uuid.UUID) (Gate, error) {
	root, err := q.TenantRoot(ctx, tx, tenant)
	if err != nil {
		return Gate{}, fmt.Errorf("find the tenant's root: %w", err)
	}
	return Gate{TenantID: root.ID, Tier: root.Tier, Limit: l.Of(root.Tier)}, nil
}

// Authorization is what a scan needs to know to wait for its slot.
type Authorization struct {
	Tier        string
	Limit       int       // concurrent scans the root tenant's tier allows
	GateTenant  uuid.UUID // the root tenant, whose gate the scan waits at
	RequestedAt time.Time
}

// Authorize is the rule that no path around the API can skip: a scan runs
// only against a registered target whose owner proved control of it (or an
// image). NotFound when the scan itself is gone, NotVerified otherwise.
// Addresses are checked again by the scanner after it resolves the name.
func Authorize(ctx context.Context, tx dbq.DBTX, l Limits, tenant, scanID uuid.UUID) (Authorization, error) {
	var res Authorization
	var err error
	g, err := GateOf(ctx, tx, l, tenant)
	if err != nil {
		return res, err
	}
	res.Tier, res.Limit, res.GateTenant = g.Tier, g.Limit, g.TenantID
	sc, err := q.ScanGet(ctx, tx, scanID)
	if errors.Is(err, pgx.ErrNoRows) {
		return res, domainerr.Wrap(domainerr.NotFound, "scan "+scanID.String()+" does not exist", err)
	}
	if err != nil {
		return res, err
	}
	res.RequestedAt = sc.CreatedAt
	if !sc.TargetID.Valid {
		return res, domainerr.New(domainerr.NotVerified, notRegistered(sc.Target))
	}
	t, err := targets.Get(ctx, tx, sc.TargetID.UUID)
	if domainerr.Is(err, domainerr.NotFound) {
		return res, domainerr.Wrap(domainerr.NotVerified, "the target "+sc.Target+" was deleted", err)
	}
	if err != nil {
		return res, err
	}
	return res, t.RequireProven()
}

func notRegistered(target string) string {
	return "the target " + target + " is not registered; register it with POST /api/v1/targets and verify it before scanning"
}

// Request is a validated request to scan: a registered target by id, or a
// target by value (registered on sight when it needs no proof).
type Request struct {
	TargetID *uuid.UUID
	Target   targets.Target // when TargetID is nil
	Scanners []string       // nil: the target kind's default
}

// Rules are the deployment's scan rules.
type Rules struct {
	Policy targets.Policy
	Limits Limits
	// Installed are the scanners the scanner workers have
	// (config.InstalledScanners); nil: every known one.
	Installed map[string]bool
}

// NewRequest validates a scan request before any database work: exactly one
// of targetID and target, a target that parses, and a literal address the
// policy allows (names are checked after resolution inside the scan, the
// check that cannot be bypassed).
func (r Rules) NewRequest(targetID *uuid.UUID, target string, scanners []string) (Request, error) {
	switch {
	case targetID == nil && target == "":
		return Request{}, domainerr.InvalidField("target", "target is required (or target_id, the id of a registered target)")
	case targetID != nil && target != "":
		return Request{}, domainerr.InvalidField("target_id", "give either target_id or target, not both")
	}
	for i, sc := range scanners {
		if r.Installed != nil && Known[sc] && !r.Installed[sc] {
			return Request{}, domainerr.InvalidField(fmt.Sprintf("scanners[%d]", i),
				fmt.Sprintf("scanner %q is not installed on this deployment's scanner workers", sc))
		}
	}
	req := Request{TargetID: targetID, Scanners: scanners}
	if target != "" {
		t, err := targets.Parse(target)
		if err != nil {
			return Request{}, domainerr.InvalidField("target", err.Error())
		}
		if err := r.CheckTarget(t); err != nil {
			return Request{}, err
		}
		req.Target = t
	}
	return req, nil
}

// CheckTarget refuses a target the policy forbids by its spelling (a
// forbidden address or a name for one, an image from a registry that is not
// allowed); names are checked again when resolved.
func (r Rules) CheckTarget(t targets.Target) error {
	if err := r.Policy.CheckTarget(t); err != nil {
		return domainerr.Wrap(domainerr.Refused, err.Error(), err)
	}
	return nil
}

// Scan is a scan as its tenant sees it.
type Scan struct {
	ID              uuid.UUID
	TenantID        uuid.UUID
	TargetID        *uuid.UUID
	ScheduleID      *uuid.UUID
	Source          string // scan, import, schedule
	Complete        bool
	Target          string
	Scanners        []string
	Status          string
	Progress        int
	ProgressMessage string
	WorkflowID      string
	Error           *string
	CreatedAt       time.Time
	StartedAt       *time.Time
	FinishedAt      *time.Time
	Counts          Counts
	Diff            Diff
}

// Counts of a scan's findings by severity.
type Counts struct{ Critical, High, Medium, Low, Info int }

// Total of all severities.
func (c Counts) Total() int { return c.Critical + c.High + c.Medium + c.Low + c.Info }

// Diff is what a scan changed in the findings store.
type Diff struct{ New, Open, Fixed, Reopened int }

// Created is a new scan with what its start needs.
type Created struct {
	Scan   Scan
	Target targets.Registered
	Gate   Gate // where the scan queues for a slot
}

// Create is the one way an on-demand scan comes to be: it resolves the
// target (registering a target that needs no proof on sight), requires its
// ownership proof, validates the scanners for its kind, reads the tenant's
// limit, and stores the queued scan under id and workflowID.
func (r Rules) Create(ctx context.Context, tx dbq.DBTX, tenant, id uuid.UUID, workflowID string, req Request) (Created, error) {
	var c Created
	var err error
	if c.Target, err = r.resolveTarget(ctx, tx, tenant, req); err != nil {
		return c, err
	}
	if err := c.Target.RequireProven(); err != nil {
		return c, err
	}
	scanners, err := ScannersFor(c.Target.Kind, req.Scanners)
	if err != nil {
		return c, err
	}
	if c.Gate, err = GateOf(ctx, tx, r.Limits, tenant); err != nil {
		return c, err
	}
	c.Scan, err = Insert(ctx, tx, NewScan{
		ID: id, TenantID: tenant, TargetID: c.Target.ID, Target: c.Target.Value, Scanners: scanners,
		WorkflowID: workflowID, Source: "scan", Complete: true,
	})
	return c, err
}

func (r Rules) resolveTarget(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID, req Request) (targets.Registered, error) {
	if req.TargetID != nil {
		t, err := targets.Get(ctx, tx, *req.TargetID)
		switch {
		case domainerr.Is(err, domainerr.NotFound):
			return t, domainerr.InvalidField("target_id", "no target with this id")
		case err != nil:
			return t, err
		case t.TenantID != tenant:
			return t, domainerr.InvalidField("target_id", "the target belongs to another tenant; act as that tenant with X-Tenant-Id")
		}
		return t, nil
	}
	t, err := targets.ByValue(ctx, tx, tenant, req.Target.String())
	if domainerr.Is(err, domainerr.NotFound) {
		if status, _, _ := r.Policy.InitialVerification(req.Target, time.Now()); status.Proven() {
			t, _, err = targets.Register(ctx, tx, r.Policy, tenant, req.Target, "")
			return t, err
		}
		return t, domainerr.New(domainerr.Refused, notRegistered(req.Target.String()))
	}
	return t, err
}

// NewScan is a scan row to store.
type NewScan struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	TargetID   uuid.UUID
	Target     string
	Scanners   []string
	WorkflowID string
	Source     string // scan or import
	Complete   bool   // whether the scan's reports cover its scanners fully
}

// Insert stores a queued scan.
func Insert(ctx context.Context, tx dbq.DBTX, n NewScan) (Scan, error) {
	row, err := q.ScanCreate(ctx, tx, dbq.ScanCreateParams{
		ID: n.ID, TenantID: n.TenantID, Target: n.Target, Scanners: n.Scanners, WorkflowID: n.WorkflowID,
		TargetID: uuid.NullUUID{UUID: n.TargetID, Valid: n.TargetID != uuid.Nil}, Source: n.Source, Complete: n.Complete,
	})
	if err != nil {
		return Scan{}, err
	}
	return FromRow(row), nil
}

// Exists reports whether the scan id is stored (in scope).
func Exists(ctx context.Context, tx dbq.DBTX, id uuid.UUID) (bool, error) {
	_, err := q.ScanGet(ctx, tx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// Get reads a scan in scope; NotFound when it is missing or foreign.
func Get(ctx context.Context, tx dbq.DBTX, id uuid.UUID) (Scan, error) {
	row, err := q.ScanGet(ctx, tx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Scan{}, domainerr.Wrap(domainerr.NotFound, domainerr.ErrNotFound.Detail, err)
	}
	if err != nil {
		return Scan{}, err
	}
	if err := reach.Check(ctx, tx, row.TenantID); err != nil {
		return Scan{}, err
	}
	return FromRow(row), nil
}

// Statuses lists a scan's states.
var Statuses = []string{"queued", "running", "completed", "failed", "cancelled"}

// Filter narrows a listing; zero fields do not filter.
type Filter struct {
	Status   *string
	TargetID *uuid.UUID
}

// List returns up to limit scans in scope, newest first, after before.
func List(ctx context.Context, tx dbq.DBTX, f Filter, before *keyset.Key, limit int) ([]Scan, error) {
	params := dbq.ScanListParams{Status: f.Status, Lim: int32(limit)}
	if f.TargetID != nil {
		params.TargetID = uuid.NullUUID{UUID: *f.TargetID, Valid: true}
	}
	if before != nil {
		params.BeforeCreated, params.BeforeID = &before.At, uuid.NullUUID{UUID: before.ID, Valid: true}
	}
	rows, err := q.ScanList(ctx, tx, params)
	if err != nil {
		return nil, err
	}
	out := make([]Scan, len(rows))
	for i, row := range rows {
		out[i] = FromRow(row)
	}
	return out, nil
}

// Key is the scan's position in a newest-first listing.
func (s Scan) Key() keyset.Key { return keyset.Key{At: s.CreatedAt, ID: s.ID} }

// FromRow is the domain's view of a stored scan.
func FromRow(sc dbq.Scan) Scan {
	return Scan{
		ID: sc.ID, TenantID: sc.TenantID, TargetID: nullable(sc.TargetID), ScheduleID: nullable(sc.ScheduleID),
		Source: sc.Source, Complete: sc.Complete, Target: sc.Target, Scanners: sc.Scanners, Status: sc.Status,
		Progress: int(sc.Progress), ProgressMessage: sc.ProgressMessage, WorkflowID: sc.WorkflowID,
		Error: sc.Error, CreatedAt: sc.CreatedAt, StartedAt: sc.StartedAt, FinishedAt: sc.FinishedAt,
		Counts: Counts{Critical: int(sc.CountCritical), High: int(sc.CountHigh), Medium: int(sc.CountMedium), Low: int(sc.CountLow), Info: int(sc.CountInfo)},
		Diff:   Diff{New: int(sc.DiffNew), Open: int(sc.DiffOpen), Fixed: int(sc.DiffFixed), Reopened: int(sc.DiffReopened)},
	}
}

func nullable(n uuid.NullUUID) *uuid.UUID {
	if !n.Valid {
		return nil
	}
	id := n.UUID
	return &id
}

// FailUnstarted records that a scan's workflow could not be started, so the
// row does not wait, queued, for a workflow that never began.
func FailUnstarted(ctx context.Context, tx dbq.DBTX, id uuid.UUID) error {
	msg := "could not start the scan workflow"
	_, err := q.ScanFinish(ctx, tx, dbq.ScanFinishParams{ID: id, Status: "failed", Error: &msg})
	return err
}

// DefectDojoTests maps each of the scan's scanners to the DefectDojo test its
// report went into (nil when none did).
func DefectDojoTests(ctx context.Context, tx dbq.DBTX, id uuid.UUID) (map[string]int64, error) {
	rows, err := q.DefectDojoImportsOfScan(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	var out map[string]int64
	for _, im := range rows {
		if out == nil {
			out = map[string]int64{}
		}
		out[im.Scanner] = im.TestID
	}
	return out, nil
}

// StoreReport keeps a scanner's raw report for the scan (one per scanner).
func StoreReport(ctx context.Context, tx dbq.DBTX, tenant, scanID uuid.UUID, scanner string, content []byte) (uuid.UUID, error) {
	return q.ScanReportUpsert(ctx, tx, dbq.ScanReportUpsertParams{TenantID: tenant, ScanID: scanID, Scanner: scanner, Content: content})
}

// StoreReportChunk keeps one chunk of an import's report under the report's
// id before the report row exists (StoreChunkedReport writes it last).
func StoreReportChunk(ctx context.Context, tx dbq.DBTX, tenant, reportID uuid.UUID, seq int, data []byte) error {
	return q.ScanReportChunkInsert(ctx, tx, dbq.ScanReportChunkInsertParams{ReportID: reportID, Seq: int32(seq), TenantID: tenant, Data: data})
}

// DropReportChunks deletes the chunks of an upload that was refused.
func DropReportChunks(ctx context.Context, tx dbq.DBTX, reportID uuid.UUID) error {
	return q.ScanReportChunksDelete(ctx, tx, reportID)
}

// StoreChunkedReport records the report whose bytes are its chunks.
func StoreChunkedReport(ctx context.Context, tx dbq.DBTX, tenant, scanID, reportID uuid.UUID, scanner string) (uuid.UUID, error) {
	return q.ScanReportInsertChunked(ctx, tx, dbq.ScanReportInsertChunkedParams{ID: reportID, TenantID: tenant, ScanID: scanID, Scanner: scanner})
}

// ReportContent is a stored report's bytes: its content, then its chunks.
func ReportContent(ctx context.Context, tx dbq.DBTX, rep dbq.ScanReport) ([]byte, error) {
	chunks, err := q.ScanReportChunksByReport(ctx, tx, rep.ID)
	if err != nil || len(chunks) == 0 {
		return rep.Content, err
	}
	n := len(rep.Content)
	for _, c := range chunks {
		n += len(c)
	}
	out := make([]byte, 0, n)
	out = append(out, rep.Content...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out, nil
}

// ScheduleIDsOfTarget lists the schedules of a target (they go with it).
func ScheduleIDsOfTarget(ctx context.Context, tx dbq.DBTX, targetID uuid.UUID) ([]uuid.UUID, error) {
	return q.ScheduleIDsByTarget(ctx, tx, targetID)
}
