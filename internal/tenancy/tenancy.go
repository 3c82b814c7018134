// Package tenancy holds the rules of who belongs where, once, for the JSON
// API, the portal and the activities: tenants and their sub-tenants, teams,
// memberships and the roles a member may grant. Functions run inside the
// caller's scoped transaction (db.InTx); rule violations are domain errors
// (internal/domainerr).
package tenancy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/reach"
	"github.com/secureops/secureops/internal/tiers"
)

var q = dbq.New()

// Tenant is an organisation (or a sub-tenant of one).
type Tenant struct {
	ID        uuid.UUID
	ParentID  *uuid.UUID
	Slug      string
	Name      string
	Tier      string
	Status    string
	CreatedAt time.Time
}

// TenantFromRow is the domain's view of a stored tenant.
func TenantFromRow(t dbq.Tenant) Tenant {
	v := Tenant{ID: t.ID, Slug: t.Slug, Name: t.Name, Tier: t.Tier, Status: t.Status, CreatedAt: t.CreatedAt}
	if t.ParentID.Valid {
		id := t.ParentID.UUID
		v.ParentID = &id
	}
	return v
}

// GetTenant reads a tenant in scope; NotFound when it is missing or foreign.
func GetTenant(ctx context.Context, tx dbq.DBTX, id uuid.UUID) (Tenant, error) {
	t, err := q.TenantGet(ctx, tx, id)
	if err != nil {
		return Tenant{}, notFound(err)
	}
	if err := reach.Check(ctx, tx, t.ID); err != nil {
		return Tenant{}, err
	}
	return TenantFromRow(t), nil
}

var validSlug = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Child is a request for a sub-tenant.
type Child struct {
	Name string
	Slug string // empty: made from the name
	Tier string // empty: the parent's
}

// Validate normalises the child's name and slug; errors name the field.
func (c *Child) Validate() error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" || len(c.Name) > 200 {
		return domainerr.InvalidField("name", "name must be 1 to 200 characters")
	}
	if c.Slug == "" {
		c.Slug = bootstrap.Slug(c.Name)
	}
	if !validSlug.MatchString(c.Slug) || len(c.Slug) > 63 {
		return domainerr.InvalidField("slug", "slug must be lower-case letters, digits and single dashes, at most 63 characters")
	}
	return nil
}

// CreateChild creates an active sub-tenant of parent under id. What a
// sub-tenant may use is paid for by its parent: its tier cannot exceed the
// parent's unless a platform admin creates it. The transaction's scope must
// include id (the new row is checked against it).
func CreateChild(ctx context.Context, tx dbq.DBTX, parent, id uuid.UUID, c Child, platformAdmin bool) (Tenant, error) {
	if err := c.Validate(); err != nil {
		return Tenant{}, err
	}
	p, err := q.TenantGet(ctx, tx, parent)
	if err != nil {
		return Tenant{}, notFound(err)
	}
	if c.Tier == "" {
		c.Tier = p.Tier
	}
	order := tiers.Names()
	if !slices.Contains(order, c.Tier) {
		return Tenant{}, domainerr.InvalidField("tier", "tier must be basic, pro or enterprise")
	}
	if slices.Index(order, c.Tier) > slices.Index(order, p.Tier) && !platformAdmin {
		return Tenant{}, domainerr.New(domainerr.Forbidden, "a sub-tenant's tier cannot exceed its parent's ("+p.Tier+")")
	}
	t, err := q.TenantCreate(ctx, tx, dbq.TenantCreateParams{
		ID: id, ParentID: uuid.NullUUID{UUID: parent, Valid: true}, Slug: c.Slug,
		Name: c.Name, Tier: c.Tier, Status: "active",
	})
	if db.IsConflict(err) {
		return Tenant{}, domainerr.Wrap(domainerr.Conflict, fmt.Sprintf("the slug %q is taken", c.Slug), err)
	}
	if err != nil {
		return Tenant{}, err
	}
	return TenantFromRow(t), nil
}

// CanGrant is the role rule: only owners (and platform admins) make owners;
// admins grant any other member role; nobody grants a role that is not a
// member role.
func CanGrant(actor, role auth.Role) bool {
	if !slices.Contains(auth.MemberRoles, role) {
		return false
	}
	switch actor {
	case auth.RolePlatformAdmin, auth.RoleClientOwner:
		return true
	case auth.RoleClientAdmin:
		return role != auth.RoleClientOwner
	}
	return false
}

// KeepAnOwner refuses a change that would leave the tenant without an owner;
// call it before demoting or removing one.
func KeepAnOwner(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID) error {
	n, err := q.MembershipCountOwners(ctx, tx, tenant)
	if err != nil {
		return err
	}
	if n <= 1 {
		return domainerr.New(domainerr.Conflict, "a tenant keeps at least one owner")
	}
	return nil
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return domainerr.Wrap(domainerr.NotFound, domainerr.ErrNotFound.Detail, err)
	}
	return err
}

// ListChildren lists a tenant's direct sub-tenants (in scope).
func ListChildren(ctx context.Context, tx dbq.DBTX, parent uuid.UUID) ([]Tenant, error) {
	rows, err := q.TenantListChildren(ctx, tx, uuid.NullUUID{UUID: parent, Valid: true})
	if err != nil {
		return nil, err
	}
	out := make([]Tenant, len(rows))
	for i, t := range rows {
		out[i] = TenantFromRow(t)
	}
	return out, nil
}
