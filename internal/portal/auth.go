package portal

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/portal/views"
)

// Kratos' self-service flows, rendered by the portal: Kratos'
// selfservice.flows.*.ui_url point here. Without ?flow= the browser is sent
// to Kratos to start one; with it, the flow is read with the browser's
// cookies and its ui.nodes rendered as a plain form posting to Kratos.
func (p *Portal) authRoutes(r chi.Router) {
	for _, kind := range kratos.FlowKinds {
		r.Get("/auth/"+kind, p.page(p.flowPage(kind)))
	}
	r.Get("/auth/error", p.page(p.authErrorPage))
	r.Get("/auth/logout", p.page(p.logout))
}

var flowTitles = map[string]string{
	"login":        "Sign in",
	"registration": "Create an account",
	"recovery":     "Recover your account",
	"verification": "Verify your email address",
	"settings":     "Your account",
}

// startFlow sends the browser to Kratos to begin a flow of kind.
func (p *Portal) startFlow(w http.ResponseWriter, r *http.Request, kind string) {
	q := url.Values{}
	if rt := p.sameOriginReturnTo(r); rt != "" && (kind == "login" || kind == "settings") {
		q.Set("return_to", rt)
	}
	if kind == "login" && r.URL.Query().Get("aal") == "aal2" {
		q.Set("aal", "aal2") // the second factor of a signed-in person
	}
	target := p.KratosBrowserURL + "/self-service/" + kind + "/browser"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// sameOriginReturnTo is ?return_to= as an absolute URL on this portal, or
// "" when absent or pointing elsewhere (no open redirect).
func (p *Portal) sameOriginReturnTo(r *http.Request) string {
	rt := r.URL.Query().Get("return_to")
	if rt == "" {
		return ""
	}
	u, err := url.Parse(rt)
	if err != nil {
		return ""
	}
	origin := p.origin(r)
	switch {
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(rt, "//"):
		return origin + u.RequestURI()
	case u.Scheme+"://"+u.Host == origin:
		return u.String()
	}
	return ""
}

// origin is the portal's origin as the browser spells it.
func (p *Portal) origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (p *Portal) flowPage(kind string) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		pg := p.pageMeta(r, flowTitles[kind], nil)
		mfaRequired := false
		if kind == "settings" {
			// A signed-in person's page: their navigation, not the public
			// one; or, when their tenant refuses them for want of a second
			// factor, the reason they are here.
			v, err := p.optionalViewer(r)
			if err == nil {
				pg.Viewer = v
			}
			var ae *APIError
			mfaRequired = errors.As(err, &ae) && ae.Type == problemMFARequired
		}
		if kind == "registration" {
			// Accounts are made by sign-up or invitation, never by
			// self-registration: no registration form is ever shown. A
			// flow here is a first single sign-on Kratos' hook refused
			// (its reason on the flow).
			if id := r.URL.Query().Get("flow"); id != "" && p.Kratos != nil {
				return p.ssoRefusedPage(w, r, pg, id)
			}
			return render(w, r, views.RegistrationClosed(pg))
		}
		if p.Kratos == nil {
			return render(w, r, views.AuthUnavailable(pg))
		}
		id := r.URL.Query().Get("flow")
		if id == "" {
			p.startFlow(w, r, kind)
			return nil
		}
		f, err := p.Kratos.GetFlow(r.Context(), kind, id, r.Header.Get("Cookie"))
		if errors.Is(err, kratos.ErrFlowGone) {
			p.startFlow(w, r, kind)
			return nil
		}
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		fv := views.NewFlowView(kind, f)
		fv.MFARequired = mfaRequired
		return render(w, r, views.AuthFlow(pg, fv))
	}
}

// optionalViewer is the signed-in person on a public page, or nil: only
// asked of the API when the browser has a Kratos session cookie.
func (p *Portal) optionalViewer(r *http.Request) (*views.Viewer, error) {
	if _, err := r.Cookie("ory_kratos_session"); err != nil {
		return nil, nil
	}
	return p.loadViewer(r)
}

func (p *Portal) authErrorPage(w http.ResponseWriter, r *http.Request) error {
	pg := p.pageMeta(r, "Something went wrong while signing in", nil)
	ev := views.FlowErrorView{}
	if id := r.URL.Query().Get("id"); id != "" && p.Kratos != nil {
		fe, err := p.Kratos.GetFlowError(r.Context(), id)
		if err != nil && !errors.Is(err, kratos.ErrFlowGone) {
			return err
		}
		ev.Code, ev.Message, ev.Reason = fe.Error.Code, fe.Error.Message, fe.Error.Reason
	}
	w.Header().Set("Cache-Control", "no-store")
	return render(w, r, views.AuthError(pg, ev))
}

// logout ends the browser's Kratos session through a browser logout flow;
// Kratos then returns the browser to the landing page.
func (p *Portal) logout(w http.ResponseWriter, r *http.Request) error {
	if p.Kratos == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	u, err := p.Kratos.BrowserLogoutURL(r.Context(), r.Header.Get("Cookie"), "")
	if errors.Is(err, kratos.ErrUnauthenticated) {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	// Forget the portal's own choices with the session.
	for _, name := range []string{tenantCookie, impCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
	return nil
}
