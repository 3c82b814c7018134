package tenancy

import (
	"context"
	"errors"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
)

// Member is a user's membership of a tenant.
type Member struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	TenantID  uuid.UUID
	Email     string
	Name      string
	Role      auth.Role
	TeamID    *uuid.UUID
	CreatedAt time.Time
}

func memberOf(m dbq.Membership, email, name string) Member {
	v := Member{ID: m.ID, UserID: m.UserID, TenantID: m.TenantID, Email: email, Name: name, Role: auth.Role(m.Role), CreatedAt: m.CreatedAt}
	if m.TeamID.Valid {
		id := m.TeamID.UUID
		v.TeamID = &id
	}
	return v
}

var errRole = "role must be client_owner, client_admin, client_analyst or client_readonly"

// Invite is a request to add a person to a tenant.
type Invite struct {
	Email  string
	Name   string
	Role   auth.Role // empty: client_analyst
	TeamID *uuid.UUID
}

// Validate normalises the invitation (a plain, lower-case address; the
// default role) and checks that actor may grant its role.
func (in *Invite) Validate(actor auth.Role) error {
	addr, err := mail.ParseAddress(in.Email)
	if err != nil || addr.Address != strings.TrimSpace(in.Email) || len(in.Email) > 320 {
		return domainerr.InvalidField("email", "email must be a plain address like ana@example.com")
	}
	in.Email = strings.ToLower(addr.Address)
	if len(in.Name) > 200 {
		return domainerr.InvalidField("name", "name must be at most 200 characters")
	}
	if in.Role == "" {
		in.Role = auth.RoleClientAnalyst
	}
	if !slices.Contains(auth.MemberRoles, in.Role) {
		return domainerr.InvalidField("role", errRole)
	}
	if !CanGrant(actor, in.Role) {
		return domainerr.New(domainerr.Forbidden, "you cannot grant "+string(in.Role))
	}
	return nil
}

// AddMember records the user (an identity made already) and their membership
// of tenant; Conflict when they are a member already.
func AddMember(ctx context.Context, tx dbq.DBTX, tenant, userID uuid.UUID, in Invite) (Member, error) {
	if err := q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: userID, Email: in.Email, Name: in.Name}); err != nil {
		return Member{}, err
	}
	if _, err := q.MembershipGet(ctx, tx, dbq.MembershipGetParams{UserID: userID, TenantID: tenant}); err == nil {
		return Member{}, domainerr.New(domainerr.Conflict, "this user is already a member; change their role instead")
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return Member{}, err
	}
	team, err := teamOf(ctx, tx, tenant, in.TeamID, uuid.NullUUID{})
	if err != nil {
		return Member{}, err
	}
	m, err := q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: userID, TenantID: tenant, Role: string(in.Role), TeamID: team})
	if err != nil {
		return Member{}, err
	}
	return memberOf(m, in.Email, in.Name), nil
}

// Change is a change to a membership; zero fields keep their value.
type Change struct {
	Role   auth.Role
	TeamID *uuid.UUID
}

// ValidRole checks a role named in a request ("" is no change).
func ValidRole(role auth.Role) error {
	if role != "" && !slices.Contains(auth.MemberRoles, role) {
		return domainerr.InvalidField("role", errRole)
	}
	return nil
}

// ChangeMember changes a member's role or team. Only owners change owners,
// nobody grants what they could not grant, and the tenant keeps an owner.
// A demotion revokes the keys the member created whose rights exceed the new
// role (revoked rather than narrowed: an integration fails loudly instead of
// quietly doing less). It returns the member, their role before and the
// revoked keys, for the caller's audit in the same transaction.
func ChangeMember(ctx context.Context, tx dbq.DBTX, actor auth.Role, tenant, userID uuid.UUID, c Change) (Member, auth.Role, []APIKey, error) {
	cur, err := q.MembershipGet(ctx, tx, dbq.MembershipGetParams{UserID: userID, TenantID: tenant})
	if err != nil {
		return Member{}, "", nil, notFound(err)
	}
	from, role := auth.Role(cur.Role), auth.Role(cur.Role)
	if c.Role != "" {
		role = c.Role
	}
	if !CanGrant(actor, role) || (from == auth.RoleClientOwner && !CanGrant(actor, auth.RoleClientOwner)) {
		return Member{}, from, nil, domainerr.New(domainerr.Forbidden, "you cannot change this member to "+string(role))
	}
	if from == auth.RoleClientOwner && role != from {
		if err := KeepAnOwner(ctx, tx, tenant); err != nil {
			return Member{}, from, nil, err
		}
	}
	team, err := teamOf(ctx, tx, tenant, c.TeamID, cur.TeamID)
	if err != nil {
		return Member{}, from, nil, err
	}
	m, err := q.MembershipUpdate(ctx, tx, dbq.MembershipUpdateParams{UserID: userID, TenantID: tenant, Role: string(role), TeamID: team})
	if err != nil {
		return Member{}, from, nil, err
	}
	u, err := q.UserGet(ctx, tx, userID)
	if err != nil {
		return Member{}, from, nil, err
	}
	var revoked []APIKey
	if role != from {
		if revoked, err = revokeCreatedKeys(ctx, tx, tenant, userID, role); err != nil {
			return Member{}, from, nil, err
		}
	}
	return memberOf(m, u.Email, u.Name), from, revoked, nil
}

// RemoveMember ends a membership; only owners remove owners, and the tenant
// keeps one. The keys the member created under it are revoked. It returns the
// role the member had and the revoked keys, for the caller's audit.
func RemoveMember(ctx context.Context, tx dbq.DBTX, actor auth.Role, tenant, userID uuid.UUID) (auth.Role, []APIKey, error) {
	cur, err := q.MembershipGet(ctx, tx, dbq.MembershipGetParams{UserID: userID, TenantID: tenant})
	if err != nil {
		return "", nil, notFound(err)
	}
	role := auth.Role(cur.Role)
	if role == auth.RoleClientOwner {
		if !CanGrant(actor, auth.RoleClientOwner) {
			return role, nil, domainerr.New(domainerr.Forbidden, "only an owner can remove an owner")
		}
		if err := KeepAnOwner(ctx, tx, tenant); err != nil {
			return role, nil, err
		}
	}
	if _, err = q.MembershipDelete(ctx, tx, dbq.MembershipDeleteParams{UserID: userID, TenantID: tenant}); err != nil {
		return role, nil, err
	}
	revoked, err := revokeCreatedKeys(ctx, tx, tenant, userID, "")
	return role, revoked, err
}

// teamOf resolves a requested team (nil: keep cur) to one of the tenant's.
func teamOf(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID, req *uuid.UUID, cur uuid.NullUUID) (uuid.NullUUID, error) {
	if req == nil {
		return cur, nil
	}
	if _, err := q.TeamGet(ctx, tx, dbq.TeamGetParams{ID: *req, TenantID: tenant}); err != nil {
		return cur, domainerr.InvalidField("team_id", "no such team in this tenant")
	}
	return uuid.NullUUID{UUID: *req, Valid: true}, nil
}

// ListMembers lists the tenant's members with their user details.
func ListMembers(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID) ([]Member, error) {
	rows, err := q.MembershipListByTenant(ctx, tx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]Member, len(rows))
	for i, m := range rows {
		out[i] = memberOf(dbq.Membership{ID: m.ID, UserID: m.UserID, TenantID: m.TenantID, Role: m.Role, TeamID: m.TeamID, CreatedAt: m.CreatedAt}, m.Email, m.Name)
	}
	return out, nil
}
