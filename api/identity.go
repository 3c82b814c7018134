package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/kratos"
)

// inTx runs fn in the request's tenant scope.
func (s *Server) inTx(r *http.Request, fn func(ctx context.Context, tx pgx.Tx, a *auth.Access) error) error {
	a := accessFrom(r.Context())
	return s.DB.InTx(r.Context(), scopeOf(a), func(ctx context.Context, tx pgx.Tx) error { return fn(ctx, tx, a) })
}

// requireTenant answers 400 when a tenant-bound action has no acting tenant
// (a platform admin acting platform-wide must name one).
func requireTenant(a *auth.Access) error {
	if a.TenantID == uuid.Nil {
		return invalid("X-Tenant-Id", "name the tenant this action is for in X-Tenant-Id")
	}
	return nil
}

// inScope reports whether a tenant id is one the request may see; others
// answer 404 so their existence does not leak.
func inScope(a *auth.Access, id uuid.UUID) bool {
	return (a.TenantID == uuid.Nil && a.Role == auth.RolePlatformAdmin) || slices.Contains(a.Scope, id)
}

// ---- me ----

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

func ptr(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
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

// ---- tenants ----

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

// ---- admin ----

func (s *Server) adminTenantsList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return err
	}
	params := dbq.TenantListAllParams{Lim: int32(limit + 1)}
	if v := q.Get("status"); v != "" {
		if !slices.Contains([]string{"onboarding", "active", "suspended", "cancelled", "failed"}, v) {
			return invalid("status", "status must be onboarding, active, suspended, cancelled or failed")
		}
		params.Status = &v
	}
	if v := q.Get("cursor"); v != "" {
		after, err := decodeCursor(v)
		if err != nil {
			return errCursor
		}
		params.AfterID = uuid.NullUUID{UUID: after, Valid: true}
	}
	var ts []dbq.Tenant
	err = s.DB.InTx(r.Context(), db.Scope{PlatformAdmin: true, UserID: accessFrom(r.Context()).Principal.UserID}, func(ctx context.Context, tx pgx.Tx) error {
		ts, err = db.Q.TenantListAll(ctx, tx, params)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(ts, limit, func(t dbq.Tenant) string { return encodeCursor(t.ID) }, tenantViewOf))
	return nil
}

func (s *Server) adminTenantSetStatus(status, action string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUUID(r, "id")
		if err != nil {
			return err
		}
		a := accessFrom(r.Context())
		var t dbq.Tenant
		err = s.DB.InTx(r.Context(), db.Scope{PlatformAdmin: true, UserID: a.Principal.UserID}, func(ctx context.Context, tx pgx.Tx) error {
			cur, err := db.Q.TenantGet(ctx, tx, id)
			if err != nil {
				return err
			}
			if cur.Status == status {
				t = cur // idempotent: suspending a suspended tenant changes nothing
				return nil
			}
			if status == "active" && cur.Status != "suspended" {
				return domainerr.New(domainerr.Conflict, "only a suspended tenant can be resumed; this one is "+cur.Status)
			}
			if t, err = db.Q.TenantSetStatus(ctx, tx, dbq.TenantSetStatusParams{ID: id, Status: status}); err != nil {
				return err
			}
			return audit(ctx, tx, r, a, id, action, "tenant", id.String(), map[string]any{"from": cur.Status, "to": status})
		})
		if err != nil {
			return err
		}
		// Suspended tenants' schedules pause; resumed ones run again. Also
		// on a repeated call: it heals a sync that failed to start before.
		if err := s.syncTenantSchedules(r.Context(), id); err != nil {
			s.logErr(r, "start the schedule sync of tenant "+id.String(), err)
		}
		writeJSON(w, http.StatusOK, tenantViewOf(t))
		return nil
	}
}

type impersonationRequest struct {
	UserID  uuid.UUID `json:"user_id"`
	Reason  string    `json:"reason"`
	Minutes int       `json:"minutes"`
}

func (s *Server) adminImpersonationCreate(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req impersonationRequest
	if err := decodeJSON(r, &req, 8<<10); err != nil {
		return err
	}
	if req.UserID == uuid.Nil {
		return invalid("user_id", "user_id is required")
	}
	if req.Minutes == 0 {
		req.Minutes = 30
	}
	if req.Minutes < 1 || req.Minutes > 60 {
		return invalid("minutes", "minutes must be from 1 to 60")
	}
	if l := len(strings.TrimSpace(req.Reason)); l < 3 || l > 500 {
		return invalid("reason", "a reason of 3 to 500 characters is required")
	}
	if req.UserID == a.Principal.UserID {
		return invalid("user_id", "you cannot impersonate yourself")
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	expires := time.Now().Add(time.Duration(req.Minutes) * time.Minute)
	var imp dbq.Impersonation
	err = s.DB.InTx(r.Context(), db.Scope{PlatformAdmin: true, UserID: a.Principal.UserID}, func(ctx context.Context, tx pgx.Tx) error {
		// The impersonation and its audit entry belong to the user's (first) tenant.
		rows, err := db.Q.AuthUser(ctx, tx, req.UserID)
		if err != nil {
			return err
		}
		var tenant uuid.UUID
		for _, m := range rows {
			if m.TenantID != uuid.Nil {
				tenant = m.TenantID
				break
			}
		}
		if tenant == uuid.Nil {
			return errNotFound
		}
		imp, err = db.Q.ImpersonationCreate(ctx, tx, dbq.ImpersonationCreateParams{
			TenantID: tenant, AdminUserID: a.Principal.UserID, UserID: req.UserID,
			Reason: strings.TrimSpace(req.Reason), TokenHash: hash, ExpiresAt: expires,
		})
		if err != nil {
			return err
		}
		return audit(ctx, tx, r, a, tenant, "impersonation.started", "user", req.UserID.String(),
			map[string]any{"reason": imp.Reason, "minutes": req.Minutes, "impersonation_id": imp.ID})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": imp.ID, "token": token, "user_id": imp.UserID, "tenant_id": imp.TenantID, "expires_at": imp.ExpiresAt,
		"header": "X-Impersonation",
	})
	return nil
}

// ---- teams ----

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

func (req *teamRequest) validate() error {
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 {
		return invalid("name", "name must be 1 to 100 characters")
	}
	return nil
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

// firstErr returns the first error; funcs are only called while all is well,
// so a decode is not attempted for a request already refused.
func firstErr(items ...any) error {
	for _, it := range items {
		switch v := it.(type) {
		case error:
			if v != nil {
				return v
			}
		case func() error:
			if err := v(); err != nil {
				return err
			}
		}
	}
	return nil
}

// ---- users ----

type userView struct {
	UserID    uuid.UUID  `json:"user_id"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	TenantID  uuid.UUID  `json:"tenant_id"`
	Role      string     `json:"role"`
	TeamID    *uuid.UUID `json:"team_id"`
	CreatedAt time.Time  `json:"created_at"`
}

type inviteRequest struct {
	Email  string     `json:"email"`
	Name   string     `json:"name"`
	Role   string     `json:"role"`
	TeamID *uuid.UUID `json:"team_id"`
}

// canGrant: only owners (and platform admins) make owners; nobody grants a
// role above their own.
func canGrant(a *auth.Access, role auth.Role) bool {
	if !slices.Contains(auth.MemberRoles, role) {
		return false
	}
	switch a.Role {
	case auth.RolePlatformAdmin, auth.RoleClientOwner:
		return true
	case auth.RoleClientAdmin:
		return role != auth.RoleClientOwner
	}
	return false
}

func (s *Server) userInvite(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req inviteRequest
	if err := firstErr(requireTenant(a), decodeJSON(r, &req, 8<<10)); err != nil {
		return err
	}
	addr, err := mail.ParseAddress(req.Email)
	if err != nil || addr.Address != strings.TrimSpace(req.Email) || len(req.Email) > 320 {
		return invalid("email", "email must be a plain address like ana@example.com")
	}
	email := strings.ToLower(addr.Address)
	if len(req.Name) > 200 {
		return invalid("name", "name must be at most 200 characters")
	}
	if req.Role == "" {
		req.Role = string(auth.RoleClientAnalyst)
	}
	if !slices.Contains(auth.MemberRoles, auth.Role(req.Role)) {
		return invalid("role", "role must be client_owner, client_admin, client_analyst or client_readonly")
	}
	if !canGrant(a, auth.Role(req.Role)) {
		return domainerr.New(domainerr.Forbidden, "you cannot grant "+req.Role)
	}
	if s.Kratos == nil {
		return domainerr.New(domainerr.Unavailable, "identity service not configured")
	}
	// Lookup-before-create: inviting the same address twice (or retrying)
	// reuses the identity.
	ident, err := s.Kratos.EnsureIdentity(r.Context(), email, req.Name, "", map[string]any{"tenant_id": a.TenantID.String()})
	var inv *kratos.InvalidError
	if errors.As(err, &inv) {
		return invalid("email", "the identity service rejected this address")
	}
	if err != nil {
		return err
	}
	// A recovery code is a way into the account: only a person who has no
	// account yet gets one. Someone who already has one is told they were
	// added and signs in as usual.
	var rec kratos.Recovery
	if ident.Created {
		if rec, err = s.Kratos.RecoveryCode(r.Context(), ident.ID, 72*time.Hour); err != nil {
			return err
		}
	}
	var m dbq.Membership
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: ident.ID, Email: email, Name: req.Name}); err != nil {
			return err
		}
		if _, err := db.Q.MembershipGet(ctx, tx, dbq.MembershipGetParams{UserID: ident.ID, TenantID: a.TenantID}); err == nil {
			return domainerr.New(domainerr.Conflict, "this user is already a member; change their role instead")
		} else if !db.IsNotFound(err) {
			return err
		}
		var team uuid.NullUUID
		if req.TeamID != nil {
			if _, err := db.Q.TeamGet(ctx, tx, dbq.TeamGetParams{ID: *req.TeamID, TenantID: a.TenantID}); err != nil {
				return invalid("team_id", "no such team in this tenant")
			}
			team = uuid.NullUUID{UUID: *req.TeamID, Valid: true}
		}
		var err error
		m, err = db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: ident.ID, TenantID: a.TenantID, Role: req.Role, TeamID: team})
		if err != nil {
			return err
		}
		body := "You have been added to a tenant on SecureOps. Sign in with your existing account.\n"
		if ident.Created {
			body = fmt.Sprintf("You have been invited to SecureOps.\n\nSet your password here: %s\nor enter the code %s.\nThe link expires in 72 hours.\n", rec.Link, rec.Code)
		}
		// Keyed by membership: a re-invitation after removal is a new email.
		if _, err := db.Q.EmailOutboxInsert(ctx, tx, dbq.EmailOutboxInsertParams{
			TenantID: a.TenantID, IdempotencyKey: "email/invite/" + m.ID.String(),
			ToAddress: email, Subject: "You are invited to SecureOps", BodyText: body,
		}); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "user.invited", "user", ident.ID.String(), map[string]any{"email": email, "role": req.Role})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, userView{UserID: ident.ID, Email: email, Name: req.Name, TenantID: m.TenantID, Role: m.Role, TeamID: nullPtr(m.TeamID), CreatedAt: m.CreatedAt})
	return nil
}

func nullPtr(n uuid.NullUUID) *uuid.UUID {
	if !n.Valid {
		return nil
	}
	return &n.UUID
}

func (s *Server) userList(w http.ResponseWriter, r *http.Request) error {
	if err := requireTenant(accessFrom(r.Context())); err != nil {
		return err
	}
	var rows []dbq.MembershipListByTenantRow
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		rows, err = db.Q.MembershipListByTenant(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return err
	}
	out := make([]userView, 0, len(rows))
	for _, m := range rows {
		out = append(out, userView{UserID: m.UserID, Email: m.Email, Name: m.Name, TenantID: m.TenantID, Role: m.Role, TeamID: nullPtr(m.TeamID), CreatedAt: m.CreatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

type userUpdateRequest struct {
	Role   string     `json:"role"`
	TeamID *uuid.UUID `json:"team_id"`
}

func (s *Server) userUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	var req userUpdateRequest
	if err := firstErr(err, requireTenant(accessFrom(r.Context())), decodeJSON(r, &req, 8<<10)); err != nil {
		return err
	}
	if req.Role != "" && !slices.Contains(auth.MemberRoles, auth.Role(req.Role)) {
		return invalid("role", "role must be client_owner, client_admin, client_analyst or client_readonly")
	}
	var m dbq.Membership
	var u dbq.User
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		cur, err := db.Q.MembershipGet(ctx, tx, dbq.MembershipGetParams{UserID: id, TenantID: a.TenantID})
		if err != nil {
			return err
		}
		role := cur.Role
		if req.Role != "" {
			role = req.Role
		}
		if !canGrant(a, auth.Role(role)) || (cur.Role == string(auth.RoleClientOwner) && !canGrant(a, auth.RoleClientOwner)) {
			return domainerr.New(domainerr.Forbidden, "you cannot change this member to "+role)
		}
		if cur.Role == string(auth.RoleClientOwner) && role != cur.Role {
			if err := keepAnOwner(ctx, tx, a.TenantID); err != nil {
				return err
			}
		}
		team := cur.TeamID
		if req.TeamID != nil {
			if _, err := db.Q.TeamGet(ctx, tx, dbq.TeamGetParams{ID: *req.TeamID, TenantID: a.TenantID}); err != nil {
				return invalid("team_id", "no such team in this tenant")
			}
			team = uuid.NullUUID{UUID: *req.TeamID, Valid: true}
		}
		if m, err = db.Q.MembershipUpdate(ctx, tx, dbq.MembershipUpdateParams{UserID: id, TenantID: a.TenantID, Role: role, TeamID: team}); err != nil {
			return err
		}
		if u, err = db.Q.UserGet(ctx, tx, id); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "user.updated", "user", id.String(), map[string]any{"role": role, "from_role": cur.Role})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userView{UserID: m.UserID, Email: u.Email, Name: u.Name, TenantID: m.TenantID, Role: m.Role, TeamID: nullPtr(m.TeamID), CreatedAt: m.CreatedAt})
	return nil
}

func keepAnOwner(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
	n, err := db.Q.MembershipCountOwners(ctx, tx, tenant)
	if err != nil {
		return err
	}
	if n <= 1 {
		return domainerr.New(domainerr.Conflict, "a tenant keeps at least one owner")
	}
	return nil
}

func (s *Server) userRemove(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err := firstErr(err, requireTenant(accessFrom(r.Context()))); err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		cur, err := db.Q.MembershipGet(ctx, tx, dbq.MembershipGetParams{UserID: id, TenantID: a.TenantID})
		if err != nil {
			return err
		}
		if cur.Role == string(auth.RoleClientOwner) {
			if !canGrant(a, auth.RoleClientOwner) {
				return domainerr.New(domainerr.Forbidden, "only an owner can remove an owner")
			}
			if err := keepAnOwner(ctx, tx, a.TenantID); err != nil {
				return err
			}
		}
		if _, err := db.Q.MembershipDelete(ctx, tx, dbq.MembershipDeleteParams{UserID: id, TenantID: a.TenantID}); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "user.removed", "user", id.String(), map[string]any{"role": cur.Role})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- API keys ----

type apiKeyView struct {
	ID         uuid.UUID  `json:"id"`
	TenantID   uuid.UUID  `json:"tenant_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Role       string     `json:"role"`
	Scopes     []string   `json:"scopes"`
	CreatedBy  *uuid.UUID `json:"created_by"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	CreatedAt  time.Time  `json:"created_at"`
	Key        string     `json:"key,omitempty"` // only in the creation response
}

func apiKeyViewOf(k dbq.ApiKey) apiKeyView {
	return apiKeyView{ID: k.ID, TenantID: k.TenantID, Name: k.Name, Prefix: k.Prefix, Role: k.Role, Scopes: k.Scopes,
		CreatedBy: nullPtr(k.CreatedBy), ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, CreatedAt: k.CreatedAt}
}

type apiKeyCreateRequest struct {
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func (s *Server) apiKeyCreate(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req apiKeyCreateRequest
	if err := firstErr(requireTenant(a), decodeJSON(r, &req, 8<<10)); err != nil {
		return err
	}
	if len(req.Name) > 100 {
		return invalid("name", "name must be at most 100 characters")
	}
	if req.Role == "" {
		req.Role = string(auth.RoleClientAPI)
	}
	role := auth.Role(req.Role)
	if !slices.Contains(auth.KeyRoles, role) {
		return invalid("role", "role must be client_admin, client_analyst, client_readonly or client_api")
	}
	if bad, ok := auth.ValidScopes(req.Scopes); !ok {
		return invalid("scopes", fmt.Sprintf("unknown scope %q", bad))
	}
	if role == auth.RoleClientAPI && len(req.Scopes) == 0 {
		return invalid("scopes", "a client_api key needs at least one scope")
	}
	if role == auth.RoleClientAdmin && !canGrant(a, auth.RoleClientAdmin) {
		return domainerr.New(domainerr.Forbidden, "you cannot create an admin key")
	}
	if req.ExpiresAt != nil && !req.ExpiresAt.After(time.Now()) {
		return invalid("expires_at", "expires_at must be in the future")
	}
	full, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		return err
	}
	if req.Scopes == nil {
		req.Scopes = []string{}
	}
	var k dbq.ApiKey
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		k, err = db.Q.APIKeyCreate(ctx, tx, dbq.APIKeyCreateParams{
			TenantID: a.TenantID, Name: req.Name, Prefix: prefix, SecretHash: hash, Role: req.Role,
			Scopes: req.Scopes, CreatedBy: nullUUID(a.Principal.UserID), ExpiresAt: req.ExpiresAt,
		})
		if err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "apikey.created", "api_key", k.ID.String(), map[string]any{"prefix": prefix, "role": req.Role, "scopes": req.Scopes})
	})
	if err != nil {
		return err
	}
	v := apiKeyViewOf(k)
	v.Key = full
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) apiKeyList(w http.ResponseWriter, r *http.Request) error {
	if err := requireTenant(accessFrom(r.Context())); err != nil {
		return err
	}
	var ks []dbq.ApiKey
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		ks, err = db.Q.APIKeyList(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return err
	}
	out := make([]apiKeyView, 0, len(ks))
	for _, k := range ks {
		out = append(out, apiKeyViewOf(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

func (s *Server) apiKeyRevoke(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err := firstErr(err, requireTenant(accessFrom(r.Context()))); err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		k, err := db.Q.APIKeyRevoke(ctx, tx, dbq.APIKeyRevokeParams{ID: id, TenantID: a.TenantID})
		if err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "apikey.revoked", "api_key", k.ID.String(), map[string]any{"prefix": k.Prefix})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- audit ----

type auditView struct {
	ID              int64           `json:"id"`
	TenantID        uuid.UUID       `json:"tenant_id"`
	ActorUserID     *uuid.UUID      `json:"actor_user_id"`
	ActorAPIKeyID   *uuid.UUID      `json:"actor_api_key_id"`
	EffectiveUserID *uuid.UUID      `json:"effective_user_id"`
	ImpersonationID *uuid.UUID      `json:"impersonation_id"`
	Action          string          `json:"action"`
	TargetType      string          `json:"target_type"`
	TargetID        string          `json:"target_id"`
	Details         json.RawMessage `json:"details"`
	RequestID       string          `json:"request_id"`
	IP              string          `json:"ip"`
	CreatedAt       time.Time       `json:"created_at"`
}

func (s *Server) auditList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return err
	}
	params := dbq.AuditListParams{Lim: int32(limit + 1)}
	if v := q.Get("action"); v != "" {
		params.Action = &v
	}
	if v := q.Get("actor"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return invalid("actor", "actor must be a user UUID")
		}
		params.Actor = uuid.NullUUID{UUID: id, Valid: true}
	}
	if v := q.Get("tenant_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil || !inScope(accessFrom(r.Context()), id) {
			return invalid("tenant_id", "tenant_id must be a tenant in your scope")
		}
		params.TenantID = uuid.NullUUID{UUID: id, Valid: true}
	}
	if v := q.Get("since"); v != "" {
		ts, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return invalid("since", "since must be an RFC 3339 time")
		}
		params.Since = &ts
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return errCursor
		}
		params.BeforeID = &n
	}
	var rows []dbq.AuditLog
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		rows, err = db.Q.AuditList(ctx, tx, params)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(rows, limit,
		func(e dbq.AuditLog) string { return strconv.FormatInt(e.ID, 10) },
		func(e dbq.AuditLog) auditView {
			return auditView{ID: e.ID, TenantID: e.TenantID, ActorUserID: nullPtr(e.ActorUserID),
				ActorAPIKeyID: nullPtr(e.ActorApiKeyID), EffectiveUserID: nullPtr(e.EffectiveUserID),
				ImpersonationID: nullPtr(e.ImpersonationID), Action: e.Action, TargetType: e.TargetType,
				TargetID: e.TargetID, Details: e.Details, RequestID: e.RequestID, IP: e.Ip, CreatedAt: e.CreatedAt}
		}))
	return nil
}
