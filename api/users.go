package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/tenancy"
)

// Users: invitations (Kratos identities), memberships, roles.

type userView struct {
	UserID    uuid.UUID  `json:"user_id"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	TenantID  uuid.UUID  `json:"tenant_id"`
	Role      string     `json:"role"`
	TeamID    *uuid.UUID `json:"team_id"`
	CreatedAt time.Time  `json:"created_at"`
}

type inviteRequest struct {
	Email  string     `json:"email"`
	Name   string     `json:"name"`
	Role   string     `json:"role"`
	TeamID *uuid.UUID `json:"team_id"`
}

func (s *Server) userInvite(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req inviteRequest
	if err := firstErr(requireTenant(a), decodeJSON(r, &req, 8<<10)); err != nil {
		return err
	}
	addr, err := mail.ParseAddress(req.Email)
	if err != nil || addr.Address != strings.TrimSpace(req.Email) || len(req.Email) > 320 {
		return invalid("email", "email must be a plain address like ana@example.com")
	}
	email := strings.ToLower(addr.Address)
	if len(req.Name) > 200 {
		return invalid("name", "name must be at most 200 characters")
	}
	if req.Role == "" {
		req.Role = string(auth.RoleClientAnalyst)
	}
	if !slices.Contains(auth.MemberRoles, auth.Role(req.Role)) {
		return invalid("role", "role must be client_owner, client_admin, client_analyst or client_readonly")
	}
	if !tenancy.CanGrant(a.Role, auth.Role(req.Role)) {
		return domainerr.New(domainerr.Forbidden, "you cannot grant "+req.Role)
	}
	if s.Kratos == nil {
		return domainerr.New(domainerr.Unavailable, "identity service not configured")
	}
	// Lookup-before-create: inviting the same address twice (or retrying)
	// reuses the identity.
	ident, err := s.Kratos.EnsureIdentity(r.Context(), email, req.Name, "", map[string]any{"tenant_id": a.TenantID.String()})
	var inv *kratos.InvalidError
	if errors.As(err, &inv) {
		return invalid("email", "the identity service rejected this address")
	}
	if err != nil {
		return err
	}
	// A recovery code is a way into the account: only a person who has no
	// account yet gets one. Someone who already has one is told they were
	// added and signs in as usual.
	var rec kratos.Recovery
	if ident.Created {
		if rec, err = s.Kratos.RecoveryCode(r.Context(), ident.ID, 72*time.Hour); err != nil {
			return err
		}
	}
	var m dbq.Membership
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: ident.ID, Email: email, Name: req.Name}); err != nil {
			return err
		}
		if _, err := db.Q.MembershipGet(ctx, tx, dbq.MembershipGetParams{UserID: ident.ID, TenantID: a.TenantID}); err == nil {
			return domainerr.New(domainerr.Conflict, "this user is already a member; change their role instead")
		} else if !db.IsNotFound(err) {
			return err
		}
		var team uuid.NullUUID
		if req.TeamID != nil {
			if _, err := db.Q.TeamGet(ctx, tx, dbq.TeamGetParams{ID: *req.TeamID, TenantID: a.TenantID}); err != nil {
				return invalid("team_id", "no such team in this tenant")
			}
			team = uuid.NullUUID{UUID: *req.TeamID, Valid: true}
		}
		var err error
		m, err = db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: ident.ID, TenantID: a.TenantID, Role: req.Role, TeamID: team})
		if err != nil {
			return err
		}
		body := "You have been added to a tenant on SecureOps. Sign in with your existing account.\n"
		if ident.Created {
			body = fmt.Sprintf("You have been invited to SecureOps.\n\nSet your password here: %s\nor enter the code %s.\nThe link expires in 72 hours.\n", rec.Link, rec.Code)
		}
		// Keyed by membership: a re-invitation after removal is a new email.
		if _, err := db.Q.EmailOutboxInsert(ctx, tx, dbq.EmailOutboxInsertParams{
			TenantID: a.TenantID, IdempotencyKey: "email/invite/" + m.ID.String(),
			ToAddress: email, Subject: "You are invited to SecureOps", BodyText: body,
		}); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "user.invited", "user", ident.ID.String(), map[string]any{"email": email, "role": req.Role})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, userView{UserID: ident.ID, Email: email, Name: req.Name, TenantID: m.TenantID, Role: m.Role, TeamID: nullPtr(m.TeamID), CreatedAt: m.CreatedAt})
	return nil
}

func (s *Server) userList(w http.ResponseWriter, r *http.Request) error {
	if err := requireTenant(accessFrom(r.Context())); err != nil {
		return err
	}
	var rows []dbq.MembershipListByTenantRow
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		rows, err = db.Q.MembershipListByTenant(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return err
	}
	out := make([]userView, 0, len(rows))
	for _, m := range rows {
		out = append(out, userView{UserID: m.UserID, Email: m.Email, Name: m.Name, TenantID: m.TenantID, Role: m.Role, TeamID: nullPtr(m.TeamID), CreatedAt: m.CreatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

type userUpdateRequest struct {
	Role   string     `json:"role"`
	TeamID *uuid.UUID `json:"team_id"`
}

func (s *Server) userUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	var req userUpdateRequest
	if err := firstErr(err, requireTenant(accessFrom(r.Context())), decodeJSON(r, &req, 8<<10)); err != nil {
		return err
	}
	if req.Role != "" && !slices.Contains(auth.MemberRoles, auth.Role(req.Role)) {
		return invalid("role", "role must be client_owner, client_admin, client_analyst or client_readonly")
	}
	var m dbq.Membership
	var u dbq.User
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		cur, err := db.Q.MembershipGet(ctx, tx, dbq.MembershipGetParams{UserID: id, TenantID: a.TenantID})
		if err != nil {
			return err
		}
		role := cur.Role
		if req.Role != "" {
			role = req.Role
		}
		if !tenancy.CanGrant(a.Role, auth.Role(role)) || (cur.Role == string(auth.RoleClientOwner) && !tenancy.CanGrant(a.Role, auth.RoleClientOwner)) {
			return domainerr.New(domainerr.Forbidden, "you cannot change this member to "+role)
		}
		if cur.Role == string(auth.RoleClientOwner) && role != cur.Role {
			if err := tenancy.KeepAnOwner(ctx, tx, a.TenantID); err != nil {
				return err
			}
		}
		team := cur.TeamID
		if req.TeamID != nil {
			if _, err := db.Q.TeamGet(ctx, tx, dbq.TeamGetParams{ID: *req.TeamID, TenantID: a.TenantID}); err != nil {
				return invalid("team_id", "no such team in this tenant")
			}
			team = uuid.NullUUID{UUID: *req.TeamID, Valid: true}
		}
		if m, err = db.Q.MembershipUpdate(ctx, tx, dbq.MembershipUpdateParams{UserID: id, TenantID: a.TenantID, Role: role, TeamID: team}); err != nil {
			return err
		}
		if u, err = db.Q.UserGet(ctx, tx, id); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "user.updated", "user", id.String(), map[string]any{"role": role, "from_role": cur.Role})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userView{UserID: m.UserID, Email: u.Email, Name: u.Name, TenantID: m.TenantID, Role: m.Role, TeamID: nullPtr(m.TeamID), CreatedAt: m.CreatedAt})
	return nil
}

func (s *Server) userRemove(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err := firstErr(err, requireTenant(accessFrom(r.Context()))); err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		cur, err := db.Q.MembershipGet(ctx, tx, dbq.MembershipGetParams{UserID: id, TenantID: a.TenantID})
		if err != nil {
			return err
		}
		if cur.Role == string(auth.RoleClientOwner) {
			if !tenancy.CanGrant(a.Role, auth.RoleClientOwner) {
				return domainerr.New(domainerr.Forbidden, "only an owner can remove an owner")
			}
			if err := tenancy.KeepAnOwner(ctx, tx, a.TenantID); err != nil {
				return err
			}
		}
		if _, err := db.Q.MembershipDelete(ctx, tx, dbq.MembershipDeleteParams{UserID: id, TenantID: a.TenantID}); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "user.removed", "user", id.String(), map[string]any{"role": cur.Role})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
