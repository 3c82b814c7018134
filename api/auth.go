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
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
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

// Problem types of a session short of a second factor.
const (
	// ProblemSecondFactor: the person has a second factor and must finish
	// signing in with it (the portal's /auth/login?aal=aal2).
	ProblemSecondFactor = "/problems/second-factor-required"
	// ProblemMFARequired: the tenant requires a second factor the person
	// has not enrolled or used (the portal's /auth/settings).
	ProblemMFARequired = "/problems/mfa-required"
)

var (
	errSecondFactor = &StatusError{Status: http.StatusForbidden, Type: ProblemSecondFactor,
		Detail: "this account has a second factor: finish signing in with it (authenticator app or a recovery code)"}
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
	if errors.Is(err, kratos.ErrSecondFactor) {
		return nil, errSecondFactor
	}
	if err != nil {
		return nil, err
	}
	if err := s.ssoRecheck(ctx, r, sess); err != nil {
		return nil, err
	}
	p, err := s.userPrincipal(ctx, sess.IdentityID)
	if err != nil {
		return nil, err
	}
	p.AAL, p.OIDCProvider = sess.AAL, sess.OIDCProvider
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
	var k dbq.AuthAPIKeyRow
	err = s.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if k, err = db.Q.AuthAPIKey(ctx, tx, prefix); err != nil {
			return err
		}
		if !auth.SecretMatches(secret, k.SecretHash) || k.Revoked || !time.Now().Before(k.ExpiresAt) {
			return errUnauthenticated
		}
		if !s.keyTouchDue(k.ID) {
			return nil
		}
		return db.Q.AuthTouchAPIKey(ctx, tx, k.ID)
	})
	if db.IsNotFound(err) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if !tenantUsable(k.TenantStatus) {
		return nil, domainerr.New(domainerr.Forbidden, "the tenant of this API key is "+k.TenantStatus)
	}
	p := &auth.Principal{APIKeyID: k.ID, KeyTenant: k.TenantID, KeyRole: auth.Role(k.Role)}
	for _, sc := range k.Scopes {
		p.KeyScopes = append(p.KeyScopes, auth.Permission(sc))
	}
	return p, nil
}

// keyTouchEvery is how often this process records an API key's use. The
// column is coarse on purpose (the touch writes once a minute at most), so a
// key used again within the minute spares the request that round trip.
const keyTouchEvery = time.Minute

// keyTouchDue reports whether the key's use is to be recorded now.
func (s *Server) keyTouchDue(id uuid.UUID) bool {
	now := time.Now()
	if v, ok := s.keyTouches.Load(id); ok && now.Sub(v.(time.Time)) < keyTouchEvery {
		return false
	}
	s.keyTouches.Store(id, now)
	return true
}

// Suspended, cancelled and failed tenants keep their data but lose access.
func tenantUsable(status string) bool { return status == "active" || status == "onboarding" }

func (s *Server) userPrincipal(ctx context.Context, userID uuid.UUID) (*auth.Principal, error) {
	var rows []dbq.AuthUserRow
	err := s.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		rows, err = db.Q.AuthUser(ctx, tx, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, domainerr.New(domainerr.Forbidden, "this identity has no SecureOps account; ask your administrator for an invitation")
	}
	p := &auth.Principal{UserID: userID, RealUserID: userID, Memberships: map[uuid.UUID]auth.Role{}}
	for _, r := range rows {
		p.PlatformAdmin = p.PlatformAdmin || r.IsPlatformAdmin
		if r.TenantID != uuid.Nil && tenantUsable(r.TenantStatus) {
			p.Memberships[r.TenantID] = auth.Role(r.Role)
		}
	}
	return p, nil
}

func (s *Server) impersonate(ctx context.Context, admin *auth.Principal, token string) (*auth.Principal, error) {
	if !admin.PlatformAdmin {
		return nil, errForbidden
	}
	var imp dbq.AuthImpersonationRow
	err := s.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		imp, err = db.Q.AuthImpersonation(ctx, tx, auth.HashSecret(token))
		return err
	})
	if db.IsNotFound(err) || (err == nil && (imp.AdminUserID != admin.UserID || imp.Ended || !time.Now().Before(imp.ExpiresAt))) {
		return nil, statusErr(http.StatusUnauthorized, "the impersonation token is unknown, expired or belongs to another admin")
	}
	if err != nil {
		return nil, err
	}
	p, err := s.userPrincipal(ctx, imp.UserID)
	if err != nil {
		return nil, err
	}
	// Acting as the user: their rights, never the admin's, and only in the
	// tenant the impersonation was opened for and its sub-tenants, where the
	// user's own closer memberships (a lower role in a child) still apply.
	p.PlatformAdmin = false
	if _, ok := p.Memberships[imp.TenantID]; !ok {
		return nil, domainerr.New(domainerr.Forbidden, "the impersonated user no longer belongs to the impersonation's tenant")
	}
	var sub []uuid.UUID
	if err := s.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		sub, err = db.Q.AuthTenantSubtree(ctx, tx, imp.TenantID)
		return err
	}); err != nil {
		return nil, err
	}
	for t := range p.Memberships {
		if !slices.Contains(sub, t) {
			delete(p.Memberships, t)
		}
	}
	p.ImpersonationTenant = imp.TenantID
	p.RealUserID = admin.UserID
	p.ImpersonationID = imp.ID
	return p, nil
}

// resolveAccess picks the tenant the request acts on (X-Tenant-Id, else the
// caller's only tenant) and the role that applies there. A tenant outside the
// caller's reach answers 404, like any foreign object.
func (s *Server) resolveAccess(r *http.Request, p *auth.Principal) (*auth.Access, error) {
	var want uuid.UUID
	if h := r.Header.Get("X-Tenant-Id"); h != "" {
		id, err := uuid.Parse(h)
		if err != nil {
			return nil, invalid("X-Tenant-Id", "X-Tenant-Id must be a tenant UUID")
		}
		want = id
	}
	a := &auth.Access{Principal: p}
	// One transaction for every lookup: this runs on every request.
	err := s.DB.Auth(r.Context(), func(ctx context.Context, tx pgx.Tx) error {
		var anc []uuid.UUID // the named tenant and its ancestors, nearest first
		if want != uuid.Nil {
			var err error
			if anc, err = db.Q.AuthTenantAncestors(ctx, tx, want); err != nil {
				return err
			}
		}
		switch {
		case p.IsAPIKey():
			a.TenantID, a.Role = p.KeyTenant, p.KeyRole
			if want != uuid.Nil {
				if !slices.Contains(anc, p.KeyTenant) {
					return errNotFound
				}
				a.TenantID = want
			}
		case want != uuid.Nil:
			for _, t := range anc { // the closest membership wins
				if role, ok := p.Memberships[t]; ok {
					a.TenantID, a.Role = want, role
					break
				}
			}
			if a.TenantID == uuid.Nil {
				if !p.PlatformAdmin || len(anc) == 0 {
					return errNotFound
				}
				a.TenantID, a.Role = want, auth.RolePlatformAdmin
			}
		case p.Impersonating():
			a.TenantID, a.Role = p.ImpersonationTenant, p.Memberships[p.ImpersonationTenant]
		case len(p.Memberships) == 1 && !p.PlatformAdmin:
			for t, role := range p.Memberships {
				a.TenantID, a.Role = t, role
			}
		case p.PlatformAdmin:
			a.Role = auth.RolePlatformAdmin // platform-wide, no tenant
		}
		if a.Role == auth.RolePlatformAdmin && s.AdminsNeedMFA && !p.IsAPIKey() && p.AAL != kratos.AAL2 {
			return errAdminMFA
		}
		if a.TenantID == uuid.Nil {
			return nil
		}
		if a.Role != auth.RolePlatformAdmin {
			// A suspended tenant blocks its whole subtree, also for callers
			// whose role comes from a tenant above it.
			blocked, err := db.Q.AuthTenantBlocked(ctx, tx, a.TenantID)
			if err != nil {
				return err
			}
			if blocked {
				return domainerr.New(domainerr.Forbidden, "this tenant is suspended")
			}
		}
		if !p.IsAPIKey() && p.AAL != kratos.AAL2 {
			required, err := db.Q.AuthTenantRequiresMFA(ctx, tx, a.TenantID)
			if err != nil {
				return err
			}
			if required {
				return errMFARequired
			}
		}
		var err error
		a.Scope, err = db.Q.AuthTenantSubtree(ctx, tx, a.TenantID)
		return err
	})
	switch {
	case errors.Is(err, errMFARequired):
		s.auditMFARefusal(r, a, "the tenant requires a second factor")
	case errors.Is(err, errAdminMFA):
		s.auditMFARefusal(r, a, "platform admins need a second factor in production")
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

var errAdminMFA = &StatusError{Status: http.StatusForbidden, Type: ProblemMFARequired,
	Detail: "platform admins need a second factor in production: add an authenticator app in your account settings (/auth/settings), then sign in again"}

var errMFARequired = &StatusError{Status: http.StatusForbidden, Type: ProblemMFARequired,
	Detail: "this organisation requires a second factor: add an authenticator app in your account settings (/auth/settings), then sign in again"}

// auditMFARefusal records a session refused for want of a second factor
// in the tenant it asked for (platform-wide, in the log only).
func (s *Server) auditMFARefusal(r *http.Request, a *auth.Access, why string) {
	if a.TenantID == uuid.Nil {
		slog.WarnContext(r.Context(), "session refused: no second factor", "reason", why, "user_id", a.Principal.RealUserID)
		return
	}
	err := s.DB.InTx(r.Context(), db.TenantScope(a.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		return audit(ctx, tx, r, a, uuid.Nil, "session.mfa_refused", "user", a.Principal.RealUserID.String(),
			map[string]string{"reason": why, "aal": a.Principal.AAL, "path": r.URL.Path})
	})
	if err != nil {
		slog.WarnContext(r.Context(), "audit of an MFA refusal failed", "error", err)
	}
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
			a.Perm = perm
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
