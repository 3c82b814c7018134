package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

// temporalHealth answers CheckHealth with err (nil: healthy).
type temporalHealth struct {
	client.Client
	err error
}

func (c temporalHealth) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	return &client.CheckHealthResponse{}, c.err
}

// Issue 17 item 9: /readyz decides on Postgres only. A Temporal outage,
// which every API replica sees at once, leaves them in the load balancer
// (status degraded); a Postgres this replica cannot reach takes it out.
func TestReadyzIgnoresTemporalOutage(t *testing.T) {
	up := pgtest.New(t).OpenApp(t)
	down, err := db.Open(context.Background(), "postgres://secureops_app@127.0.0.1:1/secureops?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	outage := errors.New("connection refused")
	for _, c := range []struct {
		name     string
		db       *db.DB
		temporal error
		code     int
		status   string
	}{
		{"all up", up, nil, 200, "ok"},
		{"temporal down", up, outage, 200, "degraded"},
		{"postgres down", down, nil, 503, "unavailable"},
	} {
		s := &Server{DB: c.db, Temporal: temporalHealth{err: c.temporal}}
		w := httptest.NewRecorder()
		if err := s.readyz(w, httptest.NewRequest(http.MethodGet, "/readyz", nil)); err != nil {
			t.Fatal(err)
		}
		var body struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != c.code || body.Status != c.status {
			t.Errorf("%s: %d %s %v, want %d %s", c.name, w.Code, body.Status, body.Checks, c.code, c.status)
		}
		if (c.temporal != nil) != (body.Checks["temporal"] != "ok") {
			t.Errorf("%s: temporal reported %q", c.name, body.Checks["temporal"])
		}
	}
}
