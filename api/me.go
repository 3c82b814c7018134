// GET /me: who is calling, in which tenant, with which permissions.

package api

import (
	"context"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
)

type meView struct {
	UserID        *uuid.UUID        `json:"user_id"`
	RealUserID    *uuid.UUID        `json:"real_user_id,omitempty"`
	APIKeyID      *uuid.UUID        `json:"api_key_id,omitempty"`
	PlatformAdmin bool              `json:"platform_admin"`
	Impersonating bool              `json:"impersonating"`
	TenantID      *uuid.UUID        `json:"tenant_id"`
	Role          string            `json:"role"`
	Memberships   map[string]string `json:"memberships"`
	Permissions   []string          `json:"permissions"`
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	p := a.Principal
	if err := s.blockedOnly(r.Context(), p); err != nil {
		return err
	}
	v := meView{UserID: ptr(p.UserID), APIKeyID: ptr(p.APIKeyID), PlatformAdmin: p.PlatformAdmin,
		Impersonating: p.Impersonating(), TenantID: ptr(a.TenantID), Role: string(a.Role),
		Memberships: map[string]string{}, Permissions: []string{}}
	if p.Impersonating() {
		v.RealUserID = ptr(p.RealUserID)
	}
	for t, role := range p.Memberships {
		v.Memberships[t.String()] = string(role)
	}
	for _, perm := range auth.Permissions {
		if a.Role != "" && a.Can(perm) {
			v.Permissions = append(v.Permissions, string(perm))
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// blockedOnly refuses a person whose every tenant is suspended (or
// cancelled, failed) with the reason, as their tenant's API keys are
// refused, instead of answering as if they belonged nowhere.
func (s *Server) blockedOnly(ctx context.Context, p *auth.Principal) error {
	if p.IsAPIKey() || p.PlatformAdmin || p.Impersonating() || len(p.Memberships) > 0 || p.UserID == uuid.Nil {
		return nil
	}
	var rows []dbq.AuthUserRow
	if err := s.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		rows, err = db.Q.AuthUser(ctx, tx, p.UserID)
		return err
	}); err != nil {
		return err
	}
	for _, row := range rows {
		if row.TenantID != uuid.Nil && !tenantUsable(row.TenantStatus) {
			return domainerr.New(domainerr.Forbidden, "this tenant is "+row.TenantStatus+": its data is kept, but nobody can sign in to it until it is restored. Contact support to restore access.")
		}
	}
	return nil
}
