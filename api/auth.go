package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/observability"
)

type accessKey struct{}

// accessFrom returns the request's resolved access; routes behind
// authentication always have one.
func accessFrom(ctx context.Context) *auth.Access {
	a, _ := ctx.Value(accessKey{}).(*auth.Access)
	return a
}

var (
	errUnauthenticated = &StatusError{Status: http.StatusUnauthorized, Detail: "authentication required: a Kratos session (cookie or X-Session-Token) or an API key (Authorization: Bearer so_…)"}
	errForbidden       = &StatusError{Status: http.StatusForbidden, Detail: "your role does not allow this action"}
)

// authenticate identifies the caller: an API key, or a Kratos session
// optionally impersonating a user. It never trusts a tenant named by the
// client until resolveAccess checks it against the caller's memberships.
func (s *Server) authenticate(r *http.Request) (*auth.Principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, errUnauthenticated
		}
		if r.Header.Get("X-Impersonation") != "" {
			return nil, statusErr(http.StatusBadRequest, "impersonation needs a platform admin's session, not an API key")
		}
		return s.authAPIKey(ctx, strings.TrimSpace(token))
	}
	cookie := ""
	if c, err := r.Cookie("ory_kratos_session"); err == nil {
		cookie = c.Name + "=" + c.Value
	}
	token := r.Header.Get("X-Session-Token")
	if cookie == "" && token == "" {
		return nil, errUnauthenticated
	}
	if s.Kratos == nil {
		return nil, statusErr(http.StatusUnauthorized, "session authentication is not configured on this server")
	}
	sess, err := s.Kratos.Whoami(ctx, cookie, token)
	if errors.Is(err, kratos.ErrUnauthenticated) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	p, err := s.userPrincipal(ctx, sess.IdentityID)
	if err != nil {
		return nil, err
	}
	if imp := r.Header.Get("X-Impersonation"); imp != "" {
		return s.impersonate(ctx, p, imp)
	}
	return p, nil
}

func (s *Server) authAPIKey(ctx context.Context, token string) (*auth.Principal, error) {
	prefix, secret, err := auth.ParseAPIKey(token)
	if err != nil {
		return nil, errUnauthenticated
	}
	var row struct {
		id, tenant uuid.UUID
		hash       []byte
		role       string
		scopes     []string
		expires    time.Time
		revoked    bool
		status     string
	}
	err = s.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		k, err := db.Q.AuthAPIKey(ctx, tx, prefix)
		if err != nil {
			return err
		}
		row.id, row.tenant, row.hash, row.role, row.scopes = k.ID, k.TenantID, k.SecretHash, k.Role, k.Scopes
		row.expires, row.revoked, row.status = k.ExpiresAt, k.Revoked, k.TenantStatus
		if auth.SecretMatches(secret, k.SecretHash) && !k.Revoked && time.Now().Before(k.ExpiresAt) {
			return db.Q.AuthTouchAPIKey(ctx, tx, k.ID)
		}
		return nil
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if !auth.SecretMatches(secret, row.hash) || row.revoked || !time.Now().Before(row.expires) {
		return nil, errUnauthenticated
	}
	if !tenantUsable(row.status) {
		return nil, statusErr(http.StatusForbidden, "the tenant of this API key is "+row.status)
	}
	p := &auth.Principal{APIKeyID: row.id, KeyTenant: row.tenant, KeyRole: auth.Role(row.role)}
	for _, sc := range row.scopes {
		p.KeyScopes = append(p.KeyScopes, auth.Permission(sc))
	}
	return p, nil
}

// Suspended, cancelled and failed tenants keep their data but lose access.
func tenantUsable(status string) bool { return status == "active" || status == "onboarding" }

func (s *Server) userPrincipal(ctx context.Context, userID uuid.UUID) (*auth.Principal, error) {
	var rows []struct {
		tenant uuid.UUID
		role   string
		status string
		admin  bool
	}
	err := s.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rs, err := db.Q.AuthUser(ctx, tx, userID)
		for _, r := range rs {
			rows = append(rows, struct {
				tenant uuid.UUID
				role   string
				status string
				admin  bool
			}{r.TenantID, r.Role, r.TenantStatus, r.IsPlatformAdmin})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, statusErr(http.StatusForbidden, "this identity has no SecureOps account; ask your administrator for an invitation")
	}
	p := &auth.Principal{UserID: userID, RealUserID: userID, Memberships: map[uuid.UUID]auth.Role{}}
	for _, r := range rows {
		p.PlatformAdmin = p.PlatformAdmin || r.admin
		if r.tenant != uuid.Nil && tenantUsable(r.status) {
			p.Memberships[r.tenant] = auth.Role(r.role)
		}
	}
	return p, nil
}

func (s *Server) impersonate(ctx context.Context, admin *auth.Principal, token string) (*auth.Principal, error) {
	if !admin.PlatformAdmin {
		return nil, errForbidden
	}
	var imp struct {
		id, admin, user, tenant uuid.UUID
		expires                 time.Time
		ended                   bool
	}
	err := s.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		i, err := db.Q.AuthImpersonation(ctx, tx, auth.HashSecret(token))
		imp.id, imp.admin, imp.user, imp.tenant, imp.expires, imp.ended = i.ID, i.AdminUserID, i.UserID, i.TenantID, i.ExpiresAt, i.Ended
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (imp.admin != admin.UserID || imp.ended || !time.Now().Before(imp.expires))) {
		return nil, statusErr(http.StatusUnauthorized, "the impersonation token is unknown, expired or belongs to another admin")
	}
	if err != nil {
		return nil, err
	}
	p, err := s.userPrincipal(ctx, imp.user)
	if err != nil {
		return nil, err
	}
	// Acting as the user: their rights, never the admin's, and only in the
	// tenant the impersonation was opened for.
	p.PlatformAdmin = false
	role, ok := p.Memberships[imp.tenant]
	if !ok {
		return nil, statusErr(http.StatusForbidden, "the impersonated user no longer belongs to the impersonation's tenant")
	}
	p.Memberships = map[uuid.UUID]auth.Role{imp.tenant: role}
	p.RealUserID = admin.UserID
	p.ImpersonationID = imp.id
	return p, nil
}

// resolveAccess picks the tenant the request acts on (X-Tenant-Id, else the
// caller's only tenant) and the role that applies there. A tenant outside the
// caller's reach answers 404, like any foreign object.
func (s *Server) resolveAccess(r *http.Request, p *auth.Principal) (*auth.Access, error) {
	ctx := r.Context()
	var want uuid.UUID
	if h := r.Header.Get("X-Tenant-Id"); h != "" {
		id, err := uuid.Parse(h)
		if err != nil {
			return nil, invalid("X-Tenant-Id", "X-Tenant-Id must be a tenant UUID")
		}
		want = id
	}
	a := &auth.Access{Principal: p}
	switch {
	case p.IsAPIKey():
		a.TenantID, a.Role = p.KeyTenant, p.KeyRole
		if want != uuid.Nil && want != p.KeyTenant {
			anc, err := s.ancestors(ctx, want)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(anc, p.KeyTenant) {
				return nil, errNotFound
			}
			a.TenantID = want
		}
	case want != uuid.Nil:
		anc, err := s.ancestors(ctx, want)
		if err != nil {
			return nil, err
		}
		for _, t := range anc { // nearest first: the closest membership wins
			if role, ok := p.Memberships[t]; ok {
				a.TenantID, a.Role = want, role
				break
			}
		}
		if a.TenantID == uuid.Nil {
			if !p.PlatformAdmin || len(anc) == 0 {
				return nil, errNotFound
			}
			a.TenantID, a.Role = want, auth.RolePlatformAdmin
		}
	case len(p.Memberships) == 1 && !p.PlatformAdmin:
		for t, role := range p.Memberships {
			a.TenantID, a.Role = t, role
		}
	case p.PlatformAdmin:
		a.Role = auth.RolePlatformAdmin // platform-wide, no tenant
	case len(p.Memberships) > 1:
		a.Role = "" // must name a tenant for tenant routes
	}
	if a.TenantID != uuid.Nil && a.Role != auth.RolePlatformAdmin {
		// A suspended tenant blocks its whole subtree, also for callers whose
		// role comes from a tenant above it.
		var blocked bool
		err := s.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
			var err error
			blocked, err = db.Q.AuthTenantBlocked(ctx, tx, a.TenantID)
			return err
		})
		if err != nil {
			return nil, err
		}
		if blocked {
			return nil, statusErr(http.StatusForbidden, "this tenant is suspended")
		}
	}
	if a.TenantID != uuid.Nil {
		sub, err := s.subtree(ctx, a.TenantID)
		if err != nil {
			return nil, err
		}
		a.Scope = sub
	}
	return a, nil
}

func (s *Server) ancestors(ctx context.Context, id uuid.UUID) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := s.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		ids, err = db.Q.AuthTenantAncestors(ctx, tx, id)
		return err
	})
	return ids, err
}

func (s *Server) subtree(ctx context.Context, id uuid.UUID) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := s.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		ids, err = db.Q.AuthTenantSubtree(ctx, tx, id)
		return err
	})
	return ids, err
}

// scope is the database scope of an access: the acting tenant's subtree, or
// every tenant for a platform admin acting platform-wide.
func scopeOf(a *auth.Access) db.Scope {
	sc := db.Scope{TenantIDs: a.Scope, UserID: a.Principal.UserID}
	if a.TenantID == uuid.Nil && a.Role == auth.RolePlatformAdmin {
		sc.PlatformAdmin = true
	}
	return sc
}

// guard is the per-route middleware: authenticate, resolve the tenant,
// enforce the route's declared permission, and rate-limit per key/session.
func (s *Server) guard(perm auth.Permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if perm == auth.PermPublic {
				next.ServeHTTP(w, r)
				return
			}
			ip := clientIP(r)
			// Status answers whether the key is still within its limit.
			if within, _, _ := s.failures.Status(ip); !within {
				w.Header().Set("Retry-After", "60")
				writeProblem(w, Problem{Status: http.StatusTooManyRequests, Detail: "too many failed authentications from this address; retry after the time in Retry-After", Instance: r.URL.Path})
				return
			}
			p, err := s.authenticate(r)
			if err != nil {
				var se *StatusError
				if errors.As(err, &se) && se.Status == http.StatusUnauthorized {
					if s.failures.RespondOnLimit(w, r, ip) {
						return
					}
					w.Header().Set("WWW-Authenticate", `Bearer realm="secureops"`)
				}
				writeError(w, r, err)
				return
			}
			if s.limiter != nil && s.limiter.RespondOnLimit(w, r, rateKey(p)) {
				return
			}
			a, err := s.resolveAccess(r, p)
			if err != nil {
				writeError(w, r, err)
				return
			}
			if perm != auth.PermAuthenticated {
				if a.TenantID == uuid.Nil && a.Role != auth.RolePlatformAdmin {
					if len(p.Memberships) > 1 {
						writeError(w, r, invalid("X-Tenant-Id", "you belong to several tenants: name one in X-Tenant-Id"))
					} else {
						writeError(w, r, errForbidden)
					}
					return
				}
				if !a.Can(perm) {
					writeError(w, r, errForbidden)
					return
				}
			}
			attrs := []slog.Attr{slog.String("tenant_id", a.TenantID.String())}
			if p.UserID != uuid.Nil {
				attrs = append(attrs, slog.String("user_id", p.UserID.String()))
			}
			if p.Impersonating() {
				attrs = append(attrs, slog.String("real_user_id", p.RealUserID.String()))
			}
			if lf, ok := r.Context().Value(logFieldsKey{}).(*logFields); ok {
				lf.tenantID, lf.userID = a.TenantID.String(), p.UserID.String()
			}
			ctx := observability.WithAttrs(context.WithValue(r.Context(), accessKey{}, a), attrs...)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func rateKey(p *auth.Principal) string {
	if p.IsAPIKey() {
		return "key:" + p.APIKeyID.String()
	}
	return "user:" + p.RealUserID.String()
}

// clientIP is the peer address. Behind a proxy, mount chi's RealIP first so
// RemoteAddr is the client's.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
