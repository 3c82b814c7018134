// Package portal is SecureOps' web face: server-rendered pages (templ, htmx,
// Chart.js) for sign-up, Kratos' sign-in flows, the tenant's dashboard,
// scans, findings, targets, schedules, settings and the platform admin's
// tenants. It reads and writes only through the API, in-process (apicall.go).
package portal

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/portal/assets"
	"github.com/secureops/secureops/internal/portal/views"
)

// Deps is what the portal needs.
type Deps struct {
	// Kratos validates sessions and serves the self-service flows; nil
	// leaves sign-in unavailable (the pages say so).
	Kratos *kratos.Client
	// KratosBrowserURL is Kratos' public API as the browser reaches it
	// (KRATOS_BROWSER_URL, else KRATOS_PUBLIC_URL). Same host spelling as the
	// portal's, or Kratos' CSRF cookie is lost.
	KratosBrowserURL string
	// TemporalUIURL links platform admins to workflows ("" hides the links).
	TemporalUIURL string
	// Namespace is the Temporal namespace for those links.
	Namespace string
	Brand     views.Brand
	Log       *slog.Logger
	// IdentityProviders are the single sign-on providers' origins
	// (sso.Origins): a sign-in through one is a form posted to Kratos that
	// redirects there, allowed by the CSP's form-action.
	IdentityProviders []string
}

// Portal serves the pages.
type Portal struct {
	Deps
	apiHandler atomic.Pointer[http.Handler]
}

// New builds the portal.
func New(d Deps) *Portal {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Brand.Name == "" {
		d.Brand = views.DefaultBrand
	}
	d.KratosBrowserURL = strings.TrimRight(d.KratosBrowserURL, "/")
	d.TemporalUIURL = strings.TrimRight(d.TemporalUIURL, "/")
	return &Portal{Deps: d}
}

func (p *Portal) api() http.Handler { return *p.apiHandler.Load() }

// Handler returns the portal's routes; api is the API router the pages call.
func (p *Portal) Handler(api http.Handler) http.Handler {
	p.apiHandler.Store(&api)
	r := chi.NewRouter()
	r.Use(p.securityHeaders)
	r.Handle(assets.Prefix+"*", http.StripPrefix(assets.Prefix, assets.Handler()))
	p.publicRoutes(r)
	p.authRoutes(r)
	r.Group(func(r chi.Router) {
		r.Use(p.requireViewer)
		p.tenantRoutes(r)
		p.dashboardRoutes(r)
		p.scanRoutes(r)
		p.findingRoutes(r)
		p.targetRoutes(r)
		p.settingsRoutes(r)
		p.ssoRoutes(r)
		p.billingRoutes(r)
		p.adminRoutes(r)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		p.renderError(w, r, &APIError{Status: http.StatusNotFound})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		p.renderError(w, r, &APIError{Status: http.StatusMethodNotAllowed, Detail: r.Method + " is not allowed here."})
	})
	return r
}

// securityHeaders: pages load only our own scripts and styles (no inline
// script); Chart.js needs inline styles on its canvas.
// Kratos' forms post to Kratos itself, so it is a form action too.
func (p *Portal) securityHeaders(next http.Handler) http.Handler {
	img := "'self' data:"
	if u, err := url.Parse(p.Brand.LogoURL); err == nil && u.Scheme == "https" && u.Host != "" {
		img += " https://" + u.Host // the brand's logo
	}
	// Kratos' webauthn.js (security keys) comes from Kratos' public API.
	scripts := "'self'"
	if u, err := url.Parse(p.KratosBrowserURL); err == nil && u.Scheme != "" && u.Host != "" {
		scripts += " " + u.Scheme + "://" + u.Host
	}
	// Sign-in through a provider posts the form to Kratos, which redirects
	// to the provider: both are form targets.
	formAction := strings.TrimSpace(p.KratosBrowserURL + " " + strings.Join(p.IdentityProviders, " "))
	csp := "default-src 'self'; script-src " + scripts + "; style-src 'self' 'unsafe-inline'; img-src " + img + "; connect-src 'self'; form-action 'self' " +
		formAction + "; frame-ancestors 'none'; base-uri 'self'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// handler is a page: it writes its answer or returns its failure, which
// page() renders as an error page a person can act on.
type handler func(w http.ResponseWriter, r *http.Request) error

func (p *Portal) page(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			p.renderError(w, r, err)
		}
	}
}

// render writes a component with status 200.
func render(w http.ResponseWriter, r *http.Request, c templ.Component) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return c.Render(r.Context(), w)
}

// renderError turns a failure into a page: sign-in for a lost session, the
// API's own words for what it refused, a request id for what broke.
func (p *Portal) renderError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	status := StatusOf(err)
	if status == http.StatusUnauthorized {
		p.redirectToLogin(w, r, "")
		return
	}
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.Type {
		case problemSecondFactor: // finish signing in with the second factor
			p.redirectToLogin(w, r, "aal2")
			return
		case problemMFARequired: // the tenant wants one: enrol it
			p.redirect(w, r, "/auth/settings?mfa=required")
			return
		}
	}
	e := views.ErrorView{Status: status, RequestID: w.Header().Get("X-Request-Id")}
	if e.RequestID == "" {
		e.RequestID = r.Header.Get("X-Request-Id")
	}
	switch {
	case status == 0:
		p.Log.ErrorContext(r.Context(), "portal page failed", "error", err, "path", r.URL.Path)
		e.Status = http.StatusInternalServerError
		e.Title = "Something went wrong on our side"
		e.Detail = "The page could not be shown. Try again in a moment; if it keeps failing, give support the request id below."
	case status == http.StatusNotFound:
		e.Title = "Not found"
		e.Detail = "There is nothing here, or it belongs to a tenant you are not acting in."
	case status == http.StatusForbidden:
		e.Title = "Not allowed"
		e.Detail = err.Error()
	case status == http.StatusTooManyRequests:
		e.Title = "Slow down"
		e.Detail = err.Error()
	default:
		e.Title = http.StatusText(status)
		e.Detail = err.Error()
	}
	if r.Header.Get("HX-Request") == "true" {
		// htmx swaps only 2xx by default: answer the fragment's error as an
		// alert the page shows in place.
		w.Header().Set("HX-Retarget", "#flash")
		w.Header().Set("HX-Reswap", "innerHTML")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_ = views.Alert(e.Title+": "+e.Detail).Render(r.Context(), w)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(e.Status)
	v, _ := r.Context().Value(viewerKey{}).(*views.Viewer)
	_ = views.ErrorPage(p.pageMeta(r, e.Title, v), e).Render(r.Context(), w)
}

// redirectToLogin sends the person to sign in and back here afterwards.
// Problem types the portal acts on (the API's ProblemSecondFactor and
// ProblemMFARequired).
const (
	problemSecondFactor = "/problems/second-factor-required"
	problemMFARequired  = "/problems/mfa-required"
)

// redirectToLogin sends the person to sign in (aal "aal2": with their
// second factor), back to this page afterwards.
func (p *Portal) redirectToLogin(w http.ResponseWriter, r *http.Request, aal string) {
	q := url.Values{}
	if r.Method == http.MethodGet {
		q.Set("return_to", r.URL.RequestURI())
	}
	if aal != "" {
		q.Set("aal", aal)
	}
	target := "/auth/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	p.redirect(w, r, target)
}

// redirect sends the browser to target, also from an htmx request.
func (p *Portal) redirect(w http.ResponseWriter, r *http.Request, target string) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusOK)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// workflowURL is a workflow's page in the Temporal Web UI, for platform
// admins ("" when no UI is configured).
func (p *Portal) workflowURL(workflowID string) string {
	if p.TemporalUIURL == "" || workflowID == "" {
		return ""
	}
	return p.TemporalUIURL + "/namespaces/" + url.PathEscape(p.Namespace) + "/workflows/" + url.PathEscape(workflowID)
}

// pageMeta is what the layout needs for any page.
func (p *Portal) pageMeta(r *http.Request, title string, v *views.Viewer) views.Page {
	return views.Page{Title: title, Brand: p.Brand, Viewer: v, Path: r.URL.Path}
}
