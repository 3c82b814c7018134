package api

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/observability"
)

// Every registered route must be in the OpenAPI document and every documented
// operation must be served, so the contract cannot drift from the code.
func TestRoutesMatchOpenAPI(t *testing.T) {
	m, err := observability.NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	r := (&Server{Metrics: m}).Router()
	spec, err := SpecOperations()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	err = chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		// Static assets under /docs/* belong to the documented /docs page.
		if strings.HasSuffix(route, "/*") {
			return nil
		}
		route = strings.TrimSuffix(route, "/")
		if route == "" {
			route = "/"
		}
		served[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, stale []string
	for op := range served {
		if !spec[op] {
			missing = append(missing, op)
		}
	}
	for op := range spec {
		if !served[op] {
			stale = append(stale, op)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 {
		t.Errorf("routes missing from api/openapi.yaml:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(stale) > 0 {
		t.Errorf("documented operations with no route:\n  %s", strings.Join(stale, "\n  "))
	}
	if len(served) < 8 {
		t.Fatalf("walked only %d routes; the walk is broken", len(served))
	}
}
