package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
)

// Teams inside a tenant.

type teamView struct {
	ID        uuid.UUID `json:"id"`
	TenantID  uuid.UUID `json:"tenant_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func teamViewOf(t dbq.Team) teamView {
	return teamView{ID: t.ID, TenantID: t.TenantID, Name: t.Name, CreatedAt: t.CreatedAt}
}

type teamRequest struct {
	Name string `json:"name"`
}

func (s *Server) teamCreate(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req teamRequest
	if err := firstErr(requireTenant(a), decodeJSON(r, &req, 8<<10), req.validate); err != nil {
		return err
	}
	var t dbq.Team
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		t, err = db.Q.TeamCreate(ctx, tx, dbq.TeamCreateParams{TenantID: a.TenantID, Name: req.Name})
		if db.IsConflict(err) {
			return domainerr.New(domainerr.Conflict, "a team with this name exists")
		}
		if err != nil {
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
	var ts []dbq.Team
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		ts, err = db.Q.TeamList(ctx, tx, a.TenantID)
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
	var t dbq.Team
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		t, err = db.Q.TeamGet(ctx, tx, dbq.TeamGetParams{ID: id, TenantID: a.TenantID})
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
	var t dbq.Team
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		t, err = db.Q.TeamRename(ctx, tx, dbq.TeamRenameParams{ID: id, TenantID: a.TenantID, Name: req.Name})
		if db.IsConflict(err) {
			return domainerr.New(domainerr.Conflict, "a team with this name exists")
		}
		if err != nil {
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
		n, err := db.Q.TeamDelete(ctx, tx, dbq.TeamDeleteParams{ID: id, TenantID: a.TenantID})
		if err != nil {
			return err
		}
		if n == 0 {
			return errNotFound
		}
		return audit(ctx, tx, r, a, uuid.Nil, "team.deleted", "team", id.String(), nil)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (req *teamRequest) validate() error {
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 {
		return invalid("name", "name must be 1 to 100 characters")
	}
	return nil
}
