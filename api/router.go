// Package api is the HTTP API: a chi router, its middleware and handlers.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/observability"
	"github.com/secureops/secureops/internal/targets"
)

// Server holds the handlers' dependencies.
type Server struct {
	DB       *db.DB
	Temporal client.Client
	Metrics  *observability.Metrics
	Policy   targets.Policy
	Log      *slog.Logger
}

// Router builds the complete route table.
func (s *Server) Router() chi.Router {
	r := chi.NewRouter()
	var m *httpMetrics
	if s.Metrics != nil {
		m = newHTTPMetrics(s.Metrics.Registry)
	} else {
		m = newHTTPMetrics(nil)
	}
	r.Use(middleware.RequestID, requestContext, m.accessLog, recoverer)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, Problem{Status: http.StatusNotFound, Detail: "no route for " + r.URL.Path, Instance: r.URL.Path})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, Problem{Status: http.StatusMethodNotAllowed, Detail: r.Method + " is not allowed on " + r.URL.Path, Instance: r.URL.Path})
	})

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if s.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", s.Metrics.Handler())
	}
	r.Get("/docs", ServeDocs)
	r.Get("/docs/*", ServeDocs)

	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/openapi.json", ServeOpenAPI)
		r.Group(func(r chi.Router) {
			r.Use(devCaller)
			r.Post("/scans", s.scanCreate)
			r.Get("/scans/{id}", s.scanGet)
			r.Get("/scans/{id}/findings", s.scanFindingsList)
		})
	})
	return r
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when both stores of truth answer: Postgres for data,
// Temporal for every process. A load balancer takes the pod out otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "temporal": "ok"}
	ok := true
	if err := s.DB.Ping(ctx); err != nil {
		checks["postgres"], ok = err.Error(), false
	}
	if _, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], ok = err.Error(), false
	}
	status, code := "ok", http.StatusOK
	if !ok {
		status, code = "unavailable", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
}
