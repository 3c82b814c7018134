// The acting principal's reach: the request's tenant scope and transaction.

package api

import (
	"context"
	"net/http"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/reach"
)

// inTx runs fn in the request's tenant scope, with the access in its
// context so the domain checks each object at its own tenant (reach.Check).
func (s *Server) inTx(r *http.Request, fn func(ctx context.Context, tx pgx.Tx, a *auth.Access) error) error {
	a := accessFrom(r.Context())
	ctx := reach.WithAccess(r.Context(), a)
	return s.DB.InTx(ctx, scopeOf(a), func(ctx context.Context, tx pgx.Tx) error { return fn(ctx, tx, a) })
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

func actorOf(a *auth.Access) string {
	p := a.Principal
	switch {
	case p.IsAPIKey():
		return "apikey:" + p.APIKeyID.String()
	case p.Impersonating():
		return "user:" + p.RealUserID.String() + " as user:" + p.UserID.String()
	default:
		return "user:" + p.UserID.String()
	}
}
