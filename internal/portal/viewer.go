package portal

import (
	"context"
	"net/http"
	"sort"

	"github.com/secureops/secureops/internal/portal/views"
)

type viewerKey struct{}

// viewerFrom is the signed-in person of a page behind requireViewer.
func viewerFrom(ctx context.Context) *views.Viewer {
	v, _ := ctx.Value(viewerKey{}).(*views.Viewer)
	return v
}

type meAnswer struct {
	UserID        string            `json:"user_id"`
	RealUserID    string            `json:"real_user_id"`
	PlatformAdmin bool              `json:"platform_admin"`
	Impersonating bool              `json:"impersonating"`
	TenantID      string            `json:"tenant_id"`
	Role          string            `json:"role"`
	Memberships   map[string]string `json:"memberships"`
	Permissions   []string          `json:"permissions"`
}

type tenantAnswer struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Slug     string  `json:"slug"`
	Tier     string  `json:"tier"`
	Status   string  `json:"status"`
	ParentID *string `json:"parent_id"`
}

// requireViewer resolves who is signed in, in which tenant and with which
// permissions (the API's /me, so the portal never decides rights itself),
// or sends the person to sign in.
func (p *Portal) requireViewer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := p.loadViewer(r)
		if StatusOf(err) == http.StatusNotFound && r.URL.Query().Get("tenant") == "" {
			if c, cerr := r.Cookie(tenantCookie); cerr == nil && c.Value != "" {
				// The switcher names a tenant the person has left: forget
				// it and show their default tenant instead of a dead end.
				http.SetCookie(w, &http.Cookie{Name: tenantCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
				http.Redirect(w, r, r.URL.RequestURI(), http.StatusSeeOther)
				return
			}
		}
		if err != nil {
			p.renderError(w, r, err)
			return
		}
		if v.TenantID == "" && !v.PlatformAdmin && len(v.Tenants) > 0 && r.Method == http.MethodGet {
			// In several tenants and none chosen yet: start in the first,
			// the switcher offers the others.
			http.SetCookie(w, &http.Cookie{Name: tenantCookie, Value: v.Tenants[0].ID, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
			http.Redirect(w, r, r.URL.RequestURI(), http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, v)))
	})
}

func (p *Portal) loadViewer(r *http.Request) (*views.Viewer, error) {
	var me meAnswer
	if err := p.call(r, http.MethodGet, "/api/v1/me", nil, &me); err != nil {
		return nil, err
	}
	v := &views.Viewer{
		UserID: me.UserID, PlatformAdmin: me.PlatformAdmin, Impersonating: me.Impersonating,
		TenantID: me.TenantID, Role: me.Role, Permissions: map[string]bool{},
	}
	for _, perm := range me.Permissions {
		v.Permissions[perm] = true
	}
	if me.Impersonating {
		// The session is the admin's: its name is not the person acted as.
		v.Name = "Acting as a member"
	} else if p.Kratos != nil {
		if c, err := r.Cookie("ory_kratos_session"); err == nil {
			if s, err := p.Kratos.Whoami(r.Context(), c.Name+"="+c.Value, ""); err == nil {
				v.Email, v.Name = s.Email, s.Name
			}
		}
	}
	for id, role := range me.Memberships {
		var t tenantAnswer
		// Asked in that tenant: someone in several tenants who has chosen
		// none yet may read each of theirs, but only by naming it.
		if err := p.get(inTenant(r, id), "/api/v1/tenants/"+id, nil, &t); err != nil {
			continue // a tenant the person cannot read right now stays out of the switcher
		}
		v.Tenants = append(v.Tenants, views.TenantChoice{ID: id, Name: t.Name, Role: role})
		if id == me.TenantID {
			v.TenantName, v.Tier = t.Name, t.Tier
		}
	}
	sort.Slice(v.Tenants, func(i, j int) bool { return v.Tenants[i].Name < v.Tenants[j].Name })
	if v.TenantID != "" && v.TenantID != "00000000-0000-0000-0000-000000000000" && v.TenantName == "" {
		var t tenantAnswer
		if err := p.get(r, "/api/v1/tenants/"+v.TenantID, nil, &t); err == nil {
			v.TenantName, v.Tier = t.Name, t.Tier
		}
	}
	return v, nil
}
