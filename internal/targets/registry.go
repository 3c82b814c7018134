package targets

// The registry: a tenant's registered targets and the ownership rule, held
// once for the JSON API, the portal and the activities (onboarding's baseline
// target, the scan's authorisation). Every function runs inside the caller's
// scoped transaction (db.InTx), so row-level security bounds what it sees.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/keyset"
)

var q = dbq.New()

// VerificationStatus is where a target's ownership proof stands.
type VerificationStatus string

const (
	StatusUnverified  VerificationStatus = "unverified"
	StatusPending     VerificationStatus = "pending"
	StatusVerified    VerificationStatus = "verified"
	StatusFailed      VerificationStatus = "failed"
	StatusNotRequired VerificationStatus = "not_required"
)

// VerificationStatuses lists the statuses in the order the API documents them.
var VerificationStatuses = []VerificationStatus{StatusUnverified, StatusPending, StatusVerified, StatusFailed, StatusNotRequired}

// Valid reports whether s is a known status.
func (s VerificationStatus) Valid() bool {
	for _, v := range VerificationStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Proven is the ownership rule: a target may be scanned when its owner
// proved control of it, or when it needs no proof (an image is pulled, not
// attacked).
func (s VerificationStatus) Proven() bool { return s == StatusVerified || s == StatusNotRequired }

// MaxValueLen bounds a target's canonical form.
const MaxValueLen = 2048

// MaxNameLen bounds a target's display name.
const MaxNameLen = 200

// Registered is a tenant's registered target.
type Registered struct {
	ID           uuid.UUID
	TenantID     uuid.UUID
	Kind         Kind
	Value        string
	Host         string
	Name         string
	Verification Verification
	CreatedAt    time.Time
}

// Verification is the state of a registered target's ownership proof.
type Verification struct {
	Status    VerificationStatus
	Method    string
	Error     string
	Token     string // what the owner publishes (DNS TXT or well-known file)
	Checks    int32
	StartedAt *time.Time
	CheckedAt *time.Time
	At        *time.Time // when it was verified
}

// Proven says whether the target may be scanned (see VerificationStatus.Proven).
func (r Registered) Proven() bool { return r.Verification.Status.Proven() }

// RequireProven is the ownership rule as an error: NotVerified, naming how to
// prove control, for a target that is not proven.
func (r Registered) RequireProven() error {
	if r.Proven() {
		return nil
	}
	return domainerr.New(domainerr.NotVerified, fmt.Sprintf(
		"the target %s is not verified (status %s); prove ownership with POST /api/v1/targets/%s/verify",
		r.Value, r.Verification.Status, r.ID))
}

// Parsed is the registered target parsed again (always valid for a stored row).
func (r Registered) Parsed() (Target, error) { return ParseAs(r.Kind, r.Value) }

// NewRegistration validates what a tenant asks to register: the kind and value
// parse, the canonical value and the name fit. Errors name the field.
func NewRegistration(kind, value, name string) (Target, string, error) {
	t, err := ParseAs(Kind(kind), value)
	if err != nil {
		field := "value"
		if strings.Contains(err.Error(), "unknown target kind") {
			field = "kind"
		}
		return Target{}, "", domainerr.InvalidField(field, err.Error())
	}
	if len(name) > MaxNameLen {
		return Target{}, "", domainerr.InvalidField("name", fmt.Sprintf("name must be at most %d characters", MaxNameLen))
	}
	if len(t.String()) > MaxValueLen {
		return Target{}, "", domainerr.InvalidField("value", fmt.Sprintf("the target is longer than %d characters once normalised", MaxValueLen))
	}
	return t, strings.TrimSpace(name), nil
}

// InitialVerification is where a newly registered target's proof starts:
// images need none; what the policy verifies on sight (loopback in dev and
// test) starts verified; everything else waits for its owner's proof.
func (p Policy) InitialVerification(t Target, now time.Time) (status VerificationStatus, method string, at *time.Time) {
	switch {
	case t.Kind == KindImage:
		return StatusNotRequired, "", nil
	case p.AutoVerifies(t):
		return StatusVerified, "auto", &now
	}
	return StatusUnverified, "", nil
}

// Register creates the tenant's target for t, or returns the one registered
// already (created is false then): registering twice is not an error, so CI
// pipelines may register before every upload.
//
// A host target whose spelling means an address the policy forbids is
// refused, whatever registers it (the API, an import, onboarding). Images are
// checked against the allowed registries where they would be pulled (at
// registration through the API, and by the scanner): an imported report may
// name an image of any registry, it pulls nothing.
func Register(ctx context.Context, tx dbq.DBTX, p Policy, tenant uuid.UUID, t Target, name string) (r Registered, created bool, err error) {
	if t.Kind != KindImage {
		if err := p.CheckName(t.Host); err != nil {
			return Registered{}, false, domainerr.Wrap(domainerr.Refused, err.Error(), err)
		}
	}
	status, method, at := p.InitialVerification(t, time.Now())
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return Registered{}, false, err
	}
	row, err := q.TargetCreate(ctx, tx, dbq.TargetCreateParams{
		TenantID: tenant, Kind: string(t.Kind), Value: t.String(), Host: t.Host, Name: name,
		VerificationToken: hex.EncodeToString(token), VerificationStatus: string(status), VerificationMethod: method, VerifiedAt: at,
	})
	if err != nil {
		return Registered{}, false, err
	}
	return FromRow(dbq.Target{
		ID: row.ID, TenantID: row.TenantID, Kind: row.Kind, Value: row.Value, Host: row.Host, Name: row.Name,
		VerificationToken: row.VerificationToken, VerificationStatus: row.VerificationStatus,
		VerificationMethod: row.VerificationMethod, VerificationError: row.VerificationError,
		VerificationChecks: row.VerificationChecks, VerificationStartedAt: row.VerificationStartedAt,
		VerificationCheckedAt: row.VerificationCheckedAt, VerifiedAt: row.VerifiedAt, CreatedAt: row.CreatedAt,
	}), row.Created, nil
}

// Get reads a target in scope; NotFound when it is missing or foreign.
func Get(ctx context.Context, tx dbq.DBTX, id uuid.UUID) (Registered, error) {
	row, err := q.TargetGet(ctx, tx, id)
	if err != nil {
		return Registered{}, notFound(err)
	}
	return FromRow(row), nil
}

// GetOfTenant reads a target that belongs to tenant itself (not merely one in
// scope, such as a sub-tenant's); NotFound otherwise.
func GetOfTenant(ctx context.Context, tx dbq.DBTX, tenant, id uuid.UUID) (Registered, error) {
	r, err := Get(ctx, tx, id)
	if err == nil && r.TenantID != tenant {
		return Registered{}, domainerr.ErrNotFound
	}
	return r, err
}

// ByValue reads the tenant's target registered with canonical value; NotFound
// when there is none.
func ByValue(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID, value string) (Registered, error) {
	row, err := q.TargetByValue(ctx, tx, dbq.TargetByValueParams{TenantID: tenant, Value: value})
	if err != nil {
		return Registered{}, notFound(err)
	}
	return FromRow(row), nil
}

// Filter narrows a listing; nil fields do not filter.
type Filter struct {
	Kind               *Kind
	VerificationStatus *VerificationStatus
}

// ParseFilter reads a listing's filter from its query values, with field errors.
func ParseFilter(kind, status string) (Filter, error) {
	var f Filter
	if kind != "" {
		if _, err := ParseAs(Kind(kind), "x"); err != nil && strings.Contains(err.Error(), "unknown target kind") {
			return f, domainerr.InvalidField("kind", "kind must be one of domain, host, url, image")
		}
		k := Kind(kind)
		f.Kind = &k
	}
	if status != "" {
		s := VerificationStatus(status)
		if !s.Valid() {
			return f, domainerr.InvalidField("verification_status", "verification_status must be one of unverified, pending, verified, failed, not_required")
		}
		f.VerificationStatus = &s
	}
	return f, nil
}

// List returns up to limit targets in scope, newest first, after the
// (created_at, id) of the last one served when before is given.
func List(ctx context.Context, tx dbq.DBTX, f Filter, before *keyset.Key, limit int) ([]Registered, error) {
	params := dbq.TargetListParams{Lim: int32(limit)}
	if f.Kind != nil {
		k := string(*f.Kind)
		params.Kind = &k
	}
	if f.VerificationStatus != nil {
		s := string(*f.VerificationStatus)
		params.VerificationStatus = &s
	}
	if before != nil {
		params.BeforeCreated, params.BeforeID = &before.At, uuid.NullUUID{UUID: before.ID, Valid: true}
	}
	rows, err := q.TargetList(ctx, tx, params)
	if err != nil {
		return nil, err
	}
	out := make([]Registered, len(rows))
	for i, row := range rows {
		out[i] = FromRow(row)
	}
	return out, nil
}

// Key is r's position in a newest-first listing.
func (r Registered) Key() keyset.Key { return keyset.Key{At: r.CreatedAt, ID: r.ID} }

// StartVerification (re)starts the proof of a target that is not proven:
// a pending one stays as it is, anything else becomes pending. started says
// whether the caller must (re)run the verification process.
func StartVerification(ctx context.Context, tx dbq.DBTX, id uuid.UUID) (r Registered, started bool, err error) {
	if r, err = Get(ctx, tx, id); err != nil || r.Proven() {
		return r, false, err
	}
	if r.Verification.Status != StatusPending {
		row, err := q.TargetVerificationStart(ctx, tx, id)
		if err != nil {
			return Registered{}, false, notFound(err)
		}
		r = FromRow(row)
	}
	return r, r.Verification.Status == StatusPending, nil
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return domainerr.Wrap(domainerr.NotFound, domainerr.ErrNotFound.Detail, err)
	}
	return err
}

// FromRow is the domain's view of a stored target.
func FromRow(t dbq.Target) Registered {
	return Registered{
		ID: t.ID, TenantID: t.TenantID, Kind: Kind(t.Kind), Value: t.Value, Host: t.Host, Name: t.Name, CreatedAt: t.CreatedAt,
		Verification: Verification{
			Status: VerificationStatus(t.VerificationStatus), Method: t.VerificationMethod, Error: t.VerificationError,
			Token: t.VerificationToken, Checks: t.VerificationChecks,
			StartedAt: t.VerificationStartedAt, CheckedAt: t.VerificationCheckedAt, At: t.VerifiedAt,
		},
	}
}

// Delete removes a target in scope (its schedules cascade); NotFound when
// there was none.
func Delete(ctx context.Context, tx dbq.DBTX, id uuid.UUID) error {
	n, err := q.TargetDelete(ctx, tx, id)
	if err == nil && n == 0 {
		return domainerr.ErrNotFound
	}
	return err
}
