// GET /me: who is calling, in which tenant, with which permissions.

package api

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/auth"
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
