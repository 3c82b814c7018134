package api

// The acting tenant's security settings: "require MFA" (owners only). While
// the tenant, or a tenant above it, requires it, members' sessions that did
// not use a second factor are refused (resolveAccess, ProblemMFARequired).

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/kratos"
)

// SecuritySettingsView is a tenant's security settings.
type SecuritySettingsView struct {
	// RequireMFA: members must sign in with a second factor.
	RequireMFA bool `json:"require_mfa"`
}

func (s *Server) securitySettingsGet(w http.ResponseWriter, r *http.Request) error {
	if err := requireTenant(accessFrom(r.Context())); err != nil {
		return err
	}
	var v SecuritySettingsView
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) (err error) {
		v.RequireMFA, err = db.Q.SecurityRequireMFA(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// securitySettingsPatch turns "require MFA" on or off; owners (and platform
// admins) only. An owner turning it on without a second factor would lock
// themselves out: refused until they enrolled one and signed in with it.
func (s *Server) securitySettingsPatch(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req struct {
		RequireMFA json.RawMessage `json:"require_mfa"`
	}
	if err := firstErr(requireTenant(a), func() error { return decodeJSON(r, &req, 4<<10) }); err != nil {
		return err
	}
	var on *bool
	if err := json.Unmarshal(req.RequireMFA, &on); req.RequireMFA == nil || err != nil || on == nil {
		return invalid("require_mfa", "require_mfa must be true or false")
	}
	if *on && a.Principal.AAL != kratos.AAL2 {
		return domainerr.New(domainerr.Conflict, "sign in with a second factor first (add an authenticator app in your account settings): otherwise turning this on would lock you out")
	}
	var stored []byte
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) (err error) {
		stored, err = db.Q.SecuritySetRequireMFA(ctx, tx, dbq.SecuritySetRequireMFAParams{TenantID: a.TenantID, Required: *on})
		if err != nil {
			return err
		}
		if stored == nil || string(stored) == "null" {
			return errNotFound
		}
		return audit(ctx, tx, r, a, uuid.Nil, "tenant.require_mfa_updated", "tenant", a.TenantID.String(), map[string]bool{"require_mfa": *on})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, SecuritySettingsView{RequireMFA: string(stored) == "true"})
	return nil
}
