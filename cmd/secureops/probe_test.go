package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The image's health checks: 200 passes, anything else or no answer fails.
func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	for url, ok := range map[string]bool{srv.URL + "/readyz": true, srv.URL + "/down": false, "http://127.0.0.1:1/readyz": false} {
		c := probeCmd()
		c.SetArgs([]string{url})
		if err := c.Execute(); (err == nil) != ok {
			t.Errorf("probe %s: %v, want ok=%v", url, err, ok)
		}
	}
}
