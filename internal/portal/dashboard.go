package portal

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/portal/views"
)

func (p *Portal) dashboardRoutes(r chi.Router) {
	r.Get("/app", p.page(p.dashboard))
}

func (p *Portal) dashboard(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	return render(w, r, views.Dashboard(p.pageMeta(r, "Dashboard", v)))
}
