package api

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
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

func tenantViewOf(t dbq.Tenant) tenantView {
	v := tenantView{ID: t.ID, Slug: t.Slug, Name: t.Name, Tier: t.Tier, Status: t.Status, CreatedAt: t.CreatedAt}
	if t.ParentID.Valid {
		v.ParentID = &t.ParentID.UUID
	}
	return v
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
	var t dbq.Tenant
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		t, err = db.Q.TenantGet(ctx, tx, id)
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
	var ts []dbq.Tenant
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		ts, err = db.Q.TenantListChildren(ctx, tx, uuid.NullUUID{UUID: id, Valid: true})
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

var validSlug = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

var tiers = []string{"basic", "pro", "enterprise"}

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
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 200 {
		return invalid("name", "name must be 1 to 200 characters")
	}
	if req.Slug == "" {
		req.Slug = bootstrap.Slug(req.Name)
	}
	if !validSlug.MatchString(req.Slug) || len(req.Slug) > 63 {
		return invalid("slug", "slug must be lower-case letters, digits and single dashes, at most 63 characters")
	}
	var t dbq.Tenant
	a := accessFrom(r.Context())
	// The new tenant joins the scope of this transaction: it is a descendant
	// of the acting tenant, and RLS checks the inserted row against the scope.
	newID := uuid.New()
	scope := scopeOf(a)
	scope.TenantIDs = append(slices.Clone(scope.TenantIDs), newID)
	err = s.DB.InTx(r.Context(), scope, func(ctx context.Context, tx pgx.Tx) error {
		p, err := db.Q.TenantGet(ctx, tx, parent)
		if err != nil {
			return err
		}
		if req.Tier == "" {
			req.Tier = p.Tier
		}
		if !slices.Contains(tiers, req.Tier) {
			return invalid("tier", "tier must be basic, pro or enterprise")
		}
		// What a sub-tenant may use is paid for by its parent.
		if slices.Index(tiers, req.Tier) > slices.Index(tiers, p.Tier) && a.Role != auth.RolePlatformAdmin {
			return domainerr.New(domainerr.Forbidden, "a sub-tenant's tier cannot exceed its parent's ("+p.Tier+")")
		}
		t, err = db.Q.TenantCreate(ctx, tx, dbq.TenantCreateParams{
			ID: newID, ParentID: uuid.NullUUID{UUID: parent, Valid: true}, Slug: req.Slug,
			Name: req.Name, Tier: req.Tier, Status: "active",
		})
		if db.IsConflict(err) {
			return domainerr.New(domainerr.Conflict, fmt.Sprintf("the slug %q is taken", req.Slug))
		}
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
