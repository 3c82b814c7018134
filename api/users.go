// Users: invitations (Kratos identities), memberships, roles (rules:
// internal/tenancy).

package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/mailtmpl"
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

func userViewOf(m tenancy.Member) userView {
	return userView{UserID: m.UserID, Email: m.Email, Name: m.Name, TenantID: m.TenantID, Role: string(m.Role), TeamID: m.TeamID, CreatedAt: m.CreatedAt}
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
	in := tenancy.Invite{Email: req.Email, Name: req.Name, Role: auth.Role(req.Role), TeamID: req.TeamID}
	if err := in.Validate(a.Role); err != nil {
		return err
	}
	email := in.Email
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
	// Someone who has an account already (a member of another tenant, say)
	// is not added without their consent: they get an invitation to accept.
	if !ident.Created {
		return s.inviteExisting(w, r, ident.ID, in)
	}
	// A recovery code is a way into the account: only a person who has no
	// account yet gets one, and setting their password is their consent.
	var rec kratos.Recovery
	if ident.Created {
		if rec, err = s.Kratos.RecoveryCode(r.Context(), ident.ID, 72*time.Hour); err != nil {
			return err
		}
	}
	var m tenancy.Member
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		if m, err = tenancy.AddMember(ctx, tx, a.TenantID, ident.ID, in); err != nil {
			return err
		}
		msg, err := s.email("invite", mailtmpl.Invite{RecoveryLink: rec.Link, RecoveryCode: rec.Code})
		if err != nil {
			return err
		}
		// Keyed by membership: a re-invitation after removal is a new email.
		if _, err := db.Q.EmailOutboxInsert(ctx, tx, dbq.EmailOutboxInsertParams{
			TenantID: a.TenantID, IdempotencyKey: "email/invite/" + m.ID.String(),
			ToAddress: email, Subject: msg.Subject, BodyText: msg.Text, BodyHtml: msg.HTML,
		}); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "user.invited", "user", ident.ID.String(), map[string]any{"email": email, "role": in.Role})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, userViewOf(m))
	return nil
}

func (s *Server) userList(w http.ResponseWriter, r *http.Request) error {
	if err := requireTenant(accessFrom(r.Context())); err != nil {
		return err
	}
	var ms []tenancy.Member
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		ms, err = tenancy.ListMembers(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return err
	}
	out := make([]userView, 0, len(ms))
	for _, m := range ms {
		out = append(out, userViewOf(m))
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
	if err := tenancy.ValidRole(auth.Role(req.Role)); err != nil {
		return err
	}
	var m tenancy.Member
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var from auth.Role
		var revoked []tenancy.APIKey
		if m, from, revoked, err = tenancy.ChangeMember(ctx, tx, a.Role, a.TenantID, id, tenancy.Change{Role: auth.Role(req.Role), TeamID: req.TeamID}); err != nil {
			return err
		}
		if err := auditKeysRevoked(ctx, tx, r, a, revoked, "creator demoted to "+string(m.Role)); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "user.updated", "user", id.String(), map[string]any{"role": m.Role, "from_role": from})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userViewOf(m))
	return nil
}

func (s *Server) userRemove(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err := firstErr(err, requireTenant(accessFrom(r.Context()))); err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		role, revoked, err := tenancy.RemoveMember(ctx, tx, a.Role, a.TenantID, id)
		if err != nil {
			return err
		}
		if err := auditKeysRevoked(ctx, tx, r, a, revoked, "creator removed"); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "user.removed", "user", id.String(), map[string]any{"role": role})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// auditKeysRevoked records each key revoked because its creator's membership
// ended or shrank.
func auditKeysRevoked(ctx context.Context, tx pgx.Tx, r *http.Request, a *auth.Access, keys []tenancy.APIKey, reason string) error {
	for _, k := range keys {
		if err := audit(ctx, tx, r, a, k.TenantID, "apikey.revoked", "api_key", k.ID.String(), map[string]any{"reason": reason, "role": k.Role}); err != nil {
			return err
		}
	}
	return nil
}
