// Package reach decides what a request may do to one object: at the object's
// own tenant, not only at the tenant the request names.
package reach

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
)

// A request acts on a tenant (X-Tenant-Id) but reaches objects anywhere in
// that tenant's subtree. What it may do to an object is decided at the
// object's own tenant: the closest membership on the way up from it wins, and
// a suspended (cancelled, failed) tenant on that way blocks it, as it blocks
// a request naming that tenant directly. The API puts the request's access
// into the transaction's context (WithAccess); the domain getters call Check
// with each object's tenant, so every per-object and bulk route applies the
// same rule. Without an access in the context (workers, activities) Check
// allows: those callers act for the platform.

var q = dbq.New()

type reachKey struct{}

type reachState struct {
	a    *auth.Access
	done map[uuid.UUID]error
}

// WithAccess returns ctx carrying the request's access for Check.
func WithAccess(ctx context.Context, a *auth.Access) context.Context {
	return context.WithValue(ctx, reachKey{}, &reachState{a: a, done: map[uuid.UUID]error{}})
}

// Check refuses (Forbidden) an object of tenant when the request's access
// does not grant its route's permission there, or a tenant between the
// object's and the acting one is not usable.
func Check(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID) error {
	st, _ := ctx.Value(reachKey{}).(*reachState)
	if st == nil || st.a == nil || st.a.Perm == "" {
		return nil
	}
	if err, ok := st.done[tenant]; ok {
		return err
	}
	err := allow(ctx, tx, st.a, tenant, st.a.Perm)
	st.done[tenant] = err
	return err
}

// CheckFor is Check for a permission other than the route's (an action a
// route performs on top of its own).
func CheckFor(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID, p auth.Permission) error {
	st, _ := ctx.Value(reachKey{}).(*reachState)
	if st == nil || st.a == nil {
		return nil
	}
	return allow(ctx, tx, st.a, tenant, p)
}

func allow(ctx context.Context, tx dbq.DBTX, a *auth.Access, tenant uuid.UUID, p auth.Permission) error {
	role, err := RoleAt(ctx, tx, a, tenant)
	if err != nil {
		return err
	}
	at := *a
	at.Role = role
	if !at.Can(p) {
		return domainerr.New(domainerr.Forbidden, "your role at this object's tenant does not allow this action")
	}
	return nil
}

// RoleAt is the role a's principal holds at tenant, a tenant in the acting
// tenant's subtree: walking up from tenant to the acting tenant, the closest
// membership wins, else the acting role applies. Forbidden when a tenant on
// that walk is suspended, cancelled or failed (a platform admin acting as
// such is not blocked, as at the acting tenant).
func RoleAt(ctx context.Context, tx dbq.DBTX, a *auth.Access, tenant uuid.UUID) (auth.Role, error) {
	if a.Role == auth.RolePlatformAdmin || a.TenantID == uuid.Nil || tenant == a.TenantID {
		return a.Role, nil
	}
	var role auth.Role
	t := tenant
	for depth := 0; t != a.TenantID; depth++ {
		if depth > 64 {
			return "", domainerr.New(domainerr.Forbidden, "this object's tenant is not under the acting tenant")
		}
		row, err := q.TenantGet(ctx, tx, t)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", domainerr.Wrap(domainerr.NotFound, domainerr.ErrNotFound.Detail, err)
		}
		if err != nil {
			return "", err
		}
		if row.Status != "active" && row.Status != "onboarding" {
			return "", domainerr.New(domainerr.Forbidden, "this object's tenant is "+row.Status)
		}
		if r, ok := a.Principal.Memberships[t]; ok && role == "" && !a.Principal.IsAPIKey() {
			role = r
		}
		if !row.ParentID.Valid {
			return "", domainerr.New(domainerr.Forbidden, "this object's tenant is not under the acting tenant")
		}
		t = row.ParentID.UUID
	}
	if role == "" {
		role = a.Role
	}
	return role, nil
}
