// Teams inside a tenant (rules: internal/tenancy).

package api

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/tenancy"
)

// Teams inside a tenant.

type teamView struct {
	ID        uuid.UUID `json:"id"`
	TenantID  uuid.UUID `json:"tenant_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func teamViewOf(t tenancy.Team) teamView {
	return teamView{ID: t.ID, TenantID: t.TenantID, Name: t.Name, CreatedAt: t.CreatedAt}
}

type teamRequest struct {
	Name string `json:"name"`
}

// validate checks the name before any database work (tenancy.TeamName).
func (req *teamRequest) validate() (err error) {
	req.Name, err = tenancy.TeamName(req.Name)
	return err
}

func (s *Server) teamCreate(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req teamRequest
	if err := firstErr(requireTenant(a), decodeJSON(r, &req, 8<<10), req.validate); err != nil {
		return err
	}
	var t tenancy.Team
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		if t, err = tenancy.CreateTeam(ctx, tx, a.TenantID, req.Name); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "team.created", "team", t.ID.String(), map[string]any{"name": t.Name})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, teamViewOf(t))
	return nil
}

func (s *Server) teamList(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return err
	}
	var ts []tenancy.Team
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		ts, err = tenancy.ListTeams(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return err
	}
	out := make([]teamView, 0, len(ts))
	for _, t := range ts {
		out = append(out, teamViewOf(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

func (s *Server) teamGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err == nil {
		err = requireTenant(accessFrom(r.Context()))
	}
	if err != nil {
		return err
	}
	var t tenancy.Team
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		t, err = tenancy.GetTeam(ctx, tx, a.TenantID, id)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, teamViewOf(t))
	return nil
}

func (s *Server) teamUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	var req teamRequest
	if err := firstErr(err, requireTenant(accessFrom(r.Context())), decodeJSON(r, &req, 8<<10), req.validate); err != nil {
		return err
	}
	var t tenancy.Team
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if t, err = tenancy.RenameTeam(ctx, tx, a.TenantID, id, req.Name); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "team.renamed", "team", id.String(), map[string]any{"name": t.Name})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, teamViewOf(t))
	return nil
}

func (s *Server) teamDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err := firstErr(err, requireTenant(accessFrom(r.Context()))); err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if err := tenancy.DeleteTeam(ctx, tx, a.TenantID, id); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "team.deleted", "team", id.String(), nil)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
