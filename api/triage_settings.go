package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// ---- triage settings ----

// TriageSettingsView is a tenant's triage settings.
type TriageSettingsView struct {
	// LLMOptIn: the tenant agreed that its findings (titles, evidence,
	// descriptions) may be sent to the configured outside model.
	LLMOptIn bool `json:"llm_opt_in"`
}

type triageSettingsPatch struct {
	LLMOptIn json.RawMessage `json:"llm_opt_in"`
}

// triageSettingsPatch sets the acting tenant's consent to LLM triage
// (tenants.settings llm_opt_in), through a SECURITY DEFINER function that
// writes exactly that key.
func (s *Server) triageSettingsPatch(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req triageSettingsPatch
	if err := firstErr(requireTenant(a), func() error { return decodeJSON(r, &req, 4<<10) }); err != nil {
		return err
	}
	var optIn *bool
	if err := json.Unmarshal(req.LLMOptIn, &optIn); req.LLMOptIn == nil || err != nil || optIn == nil {
		return invalid("llm_opt_in", "llm_opt_in must be true or false")
	}
	var stored []byte
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		stored, err = db.Q.LLMTriageSetOptIn(ctx, tx, dbq.LLMTriageSetOptInParams{TenantID: a.TenantID, OptIn: *optIn})
		if err != nil {
			return err
		}
		if stored == nil || string(stored) == "null" {
			return errNotFound
		}
		return audit(ctx, tx, r, a, uuid.Nil, "tenant.llm_opt_in_updated", "tenant", a.TenantID.String(), map[string]bool{"llm_opt_in": *optIn})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, TriageSettingsView{LLMOptIn: string(stored) == "true"})
	return nil
}
