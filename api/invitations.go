package api

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/mailtmpl"
	"github.com/secureops/secureops/internal/tenancy"
)

type invitationView struct {
	ID         uuid.UUID  `json:"id"`
	TenantID   uuid.UUID  `json:"tenant_id"`
	UserID     uuid.UUID  `json:"user_id"`
	Email      string     `json:"email"`
	Role       string     `json:"role"`
	TeamID     *uuid.UUID `json:"team_id"`
	Status     string     `json:"status"`
	ExpiresAt  time.Time  `json:"expires_at"`
	AcceptedAt *time.Time `json:"accepted_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

func invitationViewOf(i tenancy.Invitation) invitationView {
	status := "pending"
	if i.AcceptedAt != nil {
		status = "accepted"
	}
	return invitationView{ID: i.ID, TenantID: i.TenantID, UserID: i.UserID, Email: i.Email, Role: string(i.Role), TeamID: i.TeamID,
		Status: status, ExpiresAt: i.ExpiresAt, AcceptedAt: i.AcceptedAt, CreatedAt: i.CreatedAt}
}

// inviteExisting invites a person who has an account already: a pending
// invitation and an email with its token; the membership waits for them.
func (s *Server) inviteExisting(w http.ResponseWriter, r *http.Request, userID uuid.UUID, in tenancy.Invite) error {
	var inv tenancy.Invitation
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var token string
		var err error
		if inv, token, err = tenancy.CreateInvitation(ctx, tx, a.TenantID, userID, a.Principal.UserID, in, time.Now()); err != nil {
			return err
		}
		msg, err := s.email("invitation", mailtmpl.Invitation{Role: string(in.Role), Token: token, Expires: inv.ExpiresAt.UTC().Format(time.RFC1123)})
		if err != nil {
			return err
		}
		if _, err := db.Q.EmailOutboxInsert(ctx, tx, dbq.EmailOutboxInsertParams{
			TenantID: a.TenantID, IdempotencyKey: "email/invitation/" + inv.ID.String(),
			ToAddress: in.Email, Subject: msg.Subject, BodyText: msg.Text, BodyHtml: msg.HTML,
		}); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "user.invited", "user", userID.String(),
			map[string]any{"email": in.Email, "role": in.Role, "invitation_id": inv.ID, "pending": true})
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/users")
	writeJSON(w, http.StatusAccepted, invitationViewOf(inv))
	return nil
}

// invitationAccept adds the signed-in account to the tenant of the
// invitation whose token it names. The invitee is not in that tenant's scope
// yet, so the transaction runs with the platform's scope; the token (a
// secret only the email carried) and the account it was made for bound what
// it can touch.
func (s *Server) invitationAccept(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	p := a.Principal
	if p.IsAPIKey() || p.Impersonating() {
		return statusErr(http.StatusForbidden, "an invitation is accepted by its invitee in person, not by an API key or an impersonating admin")
	}
	token := chi.URLParam(r, "token")
	var inv tenancy.Invitation
	var m tenancy.Member
	err := s.DB.InTx(r.Context(), db.Scope{PlatformAdmin: true, UserID: p.UserID}, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if inv, m, err = tenancy.AcceptInvitation(ctx, tx, token, p.UserID, time.Now()); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, inv.TenantID, "user.invitation_accepted", "user", p.UserID.String(),
			map[string]any{"invitation_id": inv.ID, "role": m.Role})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userViewOf(m))
	return nil
}
