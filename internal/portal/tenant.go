package portal

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// tenantSwitch remembers the tenant a person acts in. The API decides
// whether they may: a tenant outside their reach answers 404 on the next
// page, and requireViewer then forgets the choice.
func (p *Portal) tenantSwitch(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(r.FormValue("tenant"))
	if err != nil {
		return &APIError{Status: http.StatusBadRequest, Detail: "Choose a tenant from the list."}
	}
	http.SetCookie(w, &http.Cookie{Name: tenantCookie, Value: id.String(), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	redirect(w, r, "/app")
	return nil
}

// redirect is a See Other for a plain form and HX-Redirect for htmx.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (p *Portal) tenantRoutes(r chi.Router) {
	r.Post("/app/tenant", p.page(p.tenantSwitch))
}
