package tenancy

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
)

// InvitationTTL is how long an invitation can be accepted.
const InvitationTTL = 7 * 24 * time.Hour

// Invitation asks a person who has an account already to join a tenant: the
// membership exists only once they accept it, signed in as that account.
// (A person without an account is added at once: they consent by setting
// their password through the recovery link of their invitation email.)
type Invitation struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	UserID     uuid.UUID
	Email      string
	Role       auth.Role
	TeamID     *uuid.UUID
	ExpiresAt  time.Time
	AcceptedAt *time.Time
	CreatedAt  time.Time
}

func invitationFromRow(r dbq.Invitation) Invitation {
	return Invitation{ID: r.ID, TenantID: r.TenantID, UserID: r.UserID, Email: r.Email, Role: auth.Role(r.Role),
		TeamID: nullable(r.TeamID), ExpiresAt: r.ExpiresAt, AcceptedAt: r.AcceptedAt, CreatedAt: r.CreatedAt}
}

func nullable(n uuid.NullUUID) *uuid.UUID {
	if !n.Valid {
		return nil
	}
	id := n.UUID
	return &id
}

// CreateInvitation records a pending invitation of userID (an existing
// account) to tenant and returns it with its token, which only the email
// carries (the database keeps its hash). Conflict when they are a member
// already; the invitation (validated by Invite.Validate) names role and team.
func CreateInvitation(ctx context.Context, tx dbq.DBTX, tenant, userID, invitedBy uuid.UUID, in Invite, now time.Time) (Invitation, string, error) {
	if err := q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: userID, Email: in.Email, Name: in.Name}); err != nil {
		return Invitation{}, "", err
	}
	if _, err := q.MembershipGet(ctx, tx, dbq.MembershipGetParams{UserID: userID, TenantID: tenant}); err == nil {
		return Invitation{}, "", domainerr.New(domainerr.Conflict, "this user is already a member; change their role instead")
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return Invitation{}, "", err
	}
	team, err := teamOf(ctx, tx, tenant, in.TeamID, uuid.NullUUID{})
	if err != nil {
		return Invitation{}, "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Invitation{}, "", err
	}
	token := "inv_" + base64.RawURLEncoding.EncodeToString(b)
	r, err := q.InvitationCreate(ctx, tx, dbq.InvitationCreateParams{
		TenantID: tenant, UserID: userID, Email: in.Email, Role: string(in.Role), TeamID: team,
		TokenHash: auth.HashSecret(token), InvitedBy: uuid.NullUUID{UUID: invitedBy, Valid: invitedBy != uuid.Nil},
		ExpiresAt: now.Add(InvitationTTL),
	})
	if err != nil {
		return Invitation{}, "", err
	}
	return invitationFromRow(r), token, nil
}

// AcceptInvitation adds userID to the invitation's tenant with its role and
// team. The transaction must see the invitation by its token (the platform's
// scope: the invitee is not in the tenant yet). NotFound for an unknown token
// or one of another account; Gone once expired; Conflict once accepted.
func AcceptInvitation(ctx context.Context, tx dbq.DBTX, token string, userID uuid.UUID, now time.Time) (Invitation, Member, error) {
	r, err := q.InvitationGetByTokenForUpdate(ctx, tx, auth.HashSecret(token))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && r.UserID != userID) {
		return Invitation{}, Member{}, domainerr.New(domainerr.NotFound, "no invitation with this token for your account")
	}
	if err != nil {
		return Invitation{}, Member{}, err
	}
	inv := invitationFromRow(r)
	switch {
	case r.AcceptedAt != nil:
		return inv, Member{}, domainerr.New(domainerr.Conflict, "this invitation was accepted already")
	case !now.Before(r.ExpiresAt):
		return inv, Member{}, domainerr.New(domainerr.Gone, "this invitation has expired; ask for a new one")
	}
	u, err := q.UserGet(ctx, tx, userID)
	if err != nil {
		return inv, Member{}, err
	}
	m, err := AddMember(ctx, tx, r.TenantID, userID, Invite{Email: u.Email, Name: u.Name, Role: inv.Role, TeamID: inv.TeamID})
	if err != nil {
		return inv, Member{}, err
	}
	if r, err = q.InvitationMarkAccepted(ctx, tx, r.ID); err != nil {
		return inv, Member{}, err
	}
	return invitationFromRow(r), m, nil
}
