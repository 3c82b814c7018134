package api

// POST /api/v1/kratos/hooks/settings: Kratos' web hook after a person
// changed their second factors on the settings flow (deploy/kratos/kratos.yml).
// The body only names the identity; what it has now is read from Kratos'
// admin API, compared with what we recorded, and each factor added or
// removed is audited in every tenant the person belongs to.

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

func (s *Server) kratosSettingsHook(w http.ResponseWriter, r *http.Request) error {
	got := r.Header.Get("X-Kratos-Hook-Secret")
	if s.KratosHookSecret == "" || s.Kratos == nil || subtle.ConstantTimeCompare([]byte(got), []byte(s.KratosHookSecret)) != 1 {
		return errNotFound // no hook here for anyone without the secret
	}
	var req struct {
		IdentityID uuid.UUID `json:"identity_id"`
	}
	if err := decodeJSON(r, &req, 4<<10); err != nil {
		return err
	}
	if req.IdentityID == uuid.Nil {
		return invalid("identity_id", "identity_id is required")
	}
	methods, err := s.Kratos.MFAMethods(r.Context(), req.IdentityID)
	if err != nil {
		return err
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	var res dbq.SecurityMFAChangedRow
	err = s.DB.Auth(r.Context(), func(ctx context.Context, tx pgx.Tx) (err error) {
		res, err = db.Q.SecurityMFAChanged(ctx, tx, dbq.SecurityMFAChangedParams{UserID: req.IdentityID, Methods: methods, Ip: ip})
		if db.IsNotFound(err) {
			return nil // an identity that is no user of ours
		}
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"methods": methods, "added": res.Added, "removed": res.Removed})
	return nil
}
