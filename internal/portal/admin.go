package portal

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/portal/views"
)

// The platform admin's pages: every tenant, suspend and resume, and
// impersonation (the API audits it and bounds it in time; the layout's
// banner shows it on every page until it ends).

func (p *Portal) adminRoutes(r chi.Router) {
	r.Get("/admin", p.page(p.adminOnly(p.adminPage)))
	r.Post("/admin/tenants/{id}/suspend", p.page(p.adminOnly(p.adminSetStatus("suspend"))))
	r.Post("/admin/tenants/{id}/resume", p.page(p.adminOnly(p.adminSetStatus("resume"))))
	r.Get("/admin/tenants/{id}/impersonate", p.page(p.adminOnly(p.impersonatePage)))
	r.Post("/admin/tenants/{id}/impersonate", p.page(p.adminOnly(p.impersonateStart)))
	// Reached while impersonating, when the viewer is the impersonated
	// user (no platform admin): it only forgets the token.
	r.Post("/admin/impersonation/end", p.page(p.impersonateEnd))
}

// adminOnly answers 404 to anyone but a platform admin, like the API does
// for what a caller cannot see.
func (p *Portal) adminOnly(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if v := viewerFrom(r.Context()); v == nil || !v.PlatformAdmin {
			return &APIError{Status: http.StatusNotFound}
		}
		return h(w, r)
	}
}

type adminTenantAnswer struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	Tier      string    `json:"tier"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

func (p *Portal) adminTenants(r *http.Request) ([]views.AdminTenantRow, bool, error) {
	var out struct {
		Items      []adminTenantAnswer `json:"items"`
		NextCursor *string             `json:"next_cursor"`
	}
	if err := p.get(r, "/api/v1/admin/tenants", url.Values{"limit": {"500"}}, &out); err != nil {
		return nil, false, err
	}
	rows := make([]views.AdminTenantRow, 0, len(out.Items))
	for _, t := range out.Items {
		row := views.AdminTenantRow{ID: t.ID, Name: t.Name, Slug: t.Slug, Tier: t.Tier, Status: t.Status, CreatedAt: t.CreatedAt}
		if t.Slug != "" {
			row.WorkflowURL = p.workflowURL(onboarding.WorkflowID(t.Slug))
		}
		rows = append(rows, row)
	}
	return rows, out.NextCursor != nil, nil
}

func (p *Portal) adminPage(w http.ResponseWriter, r *http.Request) error {
	rows, more, err := p.adminTenants(r)
	if err != nil {
		return err
	}
	notice := ""
	switch r.URL.Query().Get("done") {
	case "suspend":
		notice = "Tenant suspended: its people and API keys are refused until you resume it."
	case "resume":
		notice = "Tenant resumed."
	case "ended":
		notice = "Impersonation ended."
	}
	return render(w, r, views.Admin(p.pageMeta(r, "Platform admin", viewerFrom(r.Context())), views.AdminView{Tenants: rows, More: more, Notice: notice}))
}

func (p *Portal) adminSetStatus(action string) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := p.call(r, http.MethodPost, "/api/v1/admin/tenants/"+pathID(r)+"/"+action, nil, nil); err != nil {
			return err
		}
		redirect(w, r, "/admin?done="+action)
		return nil
	}
}

// inTenant is r acting in tenant id (X-Tenant-Id through ?tenant=).
func inTenant(r *http.Request, id string) *http.Request {
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = url.Values{"tenant": {id}}.Encode()
	return r2
}

func (p *Portal) renderImpersonate(w http.ResponseWriter, r *http.Request, status int, form views.FormState) error {
	id := chi.URLParam(r, "id")
	rows, _, err := p.adminTenants(r)
	if err != nil {
		return err
	}
	v := views.ImpersonateView{Form: form}
	found := false
	for _, t := range rows {
		if t.ID == id {
			v.Tenant, found = t, true
		}
	}
	if !found {
		return &APIError{Status: http.StatusNotFound}
	}
	if v.Users, err = p.members(inTenant(r, id)); err != nil {
		return err
	}
	if v.Form.Values == nil {
		v.Form.Values = map[string]string{"minutes": "30"}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	return views.AdminImpersonate(p.pageMeta(r, "Impersonate", viewerFrom(r.Context())), v).Render(r.Context(), w)
}

func (p *Portal) impersonatePage(w http.ResponseWriter, r *http.Request) error {
	return p.renderImpersonate(w, r, http.StatusOK, views.FormState{})
}

func (p *Portal) impersonateStart(w http.ResponseWriter, r *http.Request) error {
	vals := map[string]string{"user_id": r.FormValue("user_id"), "reason": strings.TrimSpace(r.FormValue("reason")), "minutes": r.FormValue("minutes")}
	in := map[string]any{"user_id": vals["user_id"], "reason": vals["reason"]}
	if vals["minutes"] != "" {
		n, err := strconv.Atoi(vals["minutes"])
		if err != nil {
			return p.renderImpersonate(w, r, formStatus, views.FormState{Values: vals, Errors: map[string]string{"minutes": "Give the minutes as a whole number from 1 to 60."}})
		}
		in["minutes"] = n
	}
	var out struct {
		Token     string    `json:"token"`
		TenantID  string    `json:"tenant_id"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	err := p.call(r, http.MethodPost, "/api/v1/admin/impersonations", in, &out)
	if f, ok := formFailure(err, vals); ok {
		return p.renderImpersonate(w, r, formStatus, f)
	}
	if err != nil {
		return err
	}
	maxAge := int(time.Until(out.ExpiresAt).Seconds())
	if maxAge < 1 {
		maxAge = 1
	}
	secure := r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: impCookie, Value: out.Token, Path: "/", MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure})
	// The tenant choice ends with the impersonation: the admin is not left
	// acting in the user's tenant with their own rights once it expires.
	http.SetCookie(w, &http.Cookie{Name: tenantCookie, Value: out.TenantID, Path: "/", MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure})
	redirect(w, r, "/app")
	return nil
}

// impersonateEnd forgets the impersonation. The API has no endpoint to end
// one early: the token stays valid until its expiry, but only in the
// admin's own session (the API checks the token's admin), and this browser
// no longer holds it.
func (p *Portal) impersonateEnd(w http.ResponseWriter, r *http.Request) error {
	for _, name := range []string{impCookie, tenantCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	}
	redirect(w, r, "/admin?done=ended")
	return nil
}
