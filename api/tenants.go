// Tenants: one tenant, its children and its tree (rules: internal/tenancy).

package api

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/reach"
	"github.com/secureops/secureops/internal/tenancy"
)

// Tenants: one tenant, its children and its tree.

type tenantView struct {
	ID        uuid.UUID  `json:"id"`
	ParentID  *uuid.UUID `json:"parent_id"`
	Slug      string     `json:"slug"`
	Name      string     `json:"name"`
	Tier      string     `json:"tier"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
}

func tenantViewOf(t tenancy.Tenant) tenantView {
	return tenantView{ID: t.ID, ParentID: t.ParentID, Slug: t.Slug, Name: t.Name, Tier: t.Tier, Status: t.Status, CreatedAt: t.CreatedAt}
}

func (s *Server) tenantFromPath(r *http.Request) (uuid.UUID, error) {
	id, err := pathUUID(r, "id")
	if err != nil {
		return id, err
	}
	if !inScope(accessFrom(r.Context()), id) {
		return id, errNotFound
	}
	return id, nil
}

func (s *Server) tenantGet(w http.ResponseWriter, r *http.Request) error {
	id, err := s.tenantFromPath(r)
	if err != nil {
		return err
	}
	var t tenancy.Tenant
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		t, err = tenancy.GetTenant(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tenantViewOf(t))
	return nil
}

func (s *Server) tenantChildrenList(w http.ResponseWriter, r *http.Request) error {
	id, err := s.tenantFromPath(r)
	if err != nil {
		return err
	}
	var ts []tenancy.Tenant
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		if err := reach.Check(ctx, tx, id); err != nil {
			return err
		}
		ts, err = tenancy.ListChildren(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	out := make([]tenantView, 0, len(ts))
	for _, t := range ts {
		out = append(out, tenantViewOf(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

type tenantCreateRequest struct {
	Name string `json:"name"`
	Slug string `json:"slug"`
	Tier string `json:"tier"`
}

func (s *Server) tenantChildCreate(w http.ResponseWriter, r *http.Request) error {
	parent, err := s.tenantFromPath(r)
	if err != nil {
		return err
	}
	var req tenantCreateRequest
	if err := decodeJSON(r, &req, 16<<10); err != nil {
		return err
	}
	child := tenancy.Child{Name: req.Name, Slug: req.Slug, Tier: req.Tier}
	if err := child.Validate(); err != nil {
		return err
	}
	var t tenancy.Tenant
	a := accessFrom(r.Context())
	// The new tenant joins the scope of this transaction: it is a descendant
	// of the acting tenant, and RLS checks the inserted row against the scope.
	newID := uuid.New()
	scope := scopeOf(a)
	scope.TenantIDs = append(slices.Clone(scope.TenantIDs), newID)
	err = s.DB.InTx(reach.WithAccess(r.Context(), a), scope, func(ctx context.Context, tx pgx.Tx) error {
		if err := reach.Check(ctx, tx, parent); err != nil {
			return err
		}
		var err error
		t, err = tenancy.CreateChild(ctx, tx, parent, newID, child, a.Role == auth.RolePlatformAdmin)
		if err != nil {
			return err
		}
		return audit(ctx, tx, r, a, parent, "tenant.child_created", "tenant", t.ID.String(), map[string]any{"slug": t.Slug, "tier": t.Tier})
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/tenants/"+t.ID.String())
	writeJSON(w, http.StatusCreated, tenantViewOf(t))
	return nil
}

type treeNode struct {
	tenantView
	Depth int `json:"depth"`
}

func (s *Server) tenantTree(w http.ResponseWriter, r *http.Request) error {
	id, err := s.tenantFromPath(r)
	if err != nil {
		return err
	}
	var rows []dbq.TenantTreeRow
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		if err := reach.Check(ctx, tx, id); err != nil {
			return err
		}
		rows, err = db.Q.TenantTree(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return errNotFound
	}
	out := make([]treeNode, 0, len(rows))
	for _, t := range rows {
		n := treeNode{tenantView: tenantView{ID: t.ID, Slug: t.Slug, Name: t.Name, Tier: t.Tier, Status: t.Status, CreatedAt: t.CreatedAt}, Depth: int(t.Depth)}
		if t.ParentID.Valid {
			n.ParentID = &t.ParentID.UUID
		}
		out = append(out, n)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}
