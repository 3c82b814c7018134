package portal

import "github.com/go-chi/chi/v5"

func (p *Portal) adminRoutes(r chi.Router) {}
