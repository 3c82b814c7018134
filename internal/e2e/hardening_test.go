package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/clientip"
	"github.com/secureops/secureops/internal/config"
)

// Black-box checks of a production-mode API: every spelling of loopback,
// private and metadata addresses is refused where a tenant names a host, and
// images only come from allowed registries.
func TestProductionRefusesForbiddenSpellings(t *testing.T) {
	p := startWith(t, options{noWorkers: true, configure: func(c *config.Config) { c.Mode = config.ModeProduction }})
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: "Prod Co", Tier: "pro"})
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := bootstrap.CreateAPIKey(ctx, p.db, ten.Slug, auth.RoleClientAdmin, nil, "prod admin")
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, p.api.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = fmt.Fprint(&b, resp.Header.Get("Content-Type"), " ")
		buf := make([]byte, 2048)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String()
	}
	for _, u := range []string{
		"https://localhost:1/", "https://0x7f.1/", "https://127.1/", "https://0177.0.0.1/",
		"https://metadata.google.internal/computeMetadata/v1/", "https://127.0.0.1.nip.io/", "https://10.0.0.1/",
	} {
		if code, body := call("POST", "/api/v1/webhooks", fmt.Sprintf(`{"url":%q}`, u)); code != http.StatusBadRequest {
			t.Errorf("webhook %s: %d %s, want 400", u, code, body)
		}
	}
	for _, target := range []string{"localhost:8080", "127.1:8080", "0x7f.1", "app.localhost", "metadata.google.internal", "10.0.0.1.nip.io:443"} {
		if code, body := call("POST", "/api/v1/scans", fmt.Sprintf(`{"target":%q}`, target)); code != http.StatusUnprocessableEntity {
			t.Errorf("scan of %s: %d %s, want 422", target, code, body)
		}
		if code, body := call("POST", "/api/v1/targets", fmt.Sprintf(`{"value":%q}`, target)); code != http.StatusUnprocessableEntity {
			t.Errorf("target %s: %d %s, want 422", target, code, body)
		}
	}
	for _, img := range []string{"image:10.0.0.5:5000/x", "image:169.254.169.254/x", "image:localhost:5000/app", "image:evil.example.com/nginx"} {
		if code, body := call("POST", "/api/v1/targets", fmt.Sprintf(`{"value":%q}`, img)); code != http.StatusUnprocessableEntity {
			t.Errorf("image target %s: %d %s, want 422", img, code, body)
		}
	}
	if code, body := call("POST", "/api/v1/targets", `{"value":"image:nginx:1.27"}`); code != http.StatusCreated {
		t.Errorf("a public image: %d %s, want 201", code, body)
	}
	if code, body := call("POST", "/api/v1/targets", `{"value":"a..b.example"}`); code != http.StatusBadRequest {
		t.Errorf("a..b.example: %d %s, want 400", code, body)
	}
	if code, body := call("GET", "/api/v1/dashboard?to=9999-12-31", ""); code != http.StatusBadRequest {
		t.Errorf("dashboard to 9999-12-31: %d %s, want 400", code, body)
	}
}

// The API's edge: the client's address behind trusted proxies only, a
// bounded request id, cross-origin cookie requests refused, 405 with Allow,
// and /metrics off the public port when private.
func TestAPIEdge(t *testing.T) {
	p := startWith(t, options{noWorkers: true, rateLimit: 100000})
	trusted, err := clientip.Parse("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	ips, err := clientip.New(trusted)
	if err != nil {
		t.Fatal(err)
	}
	p.server.ClientIP = ips
	p.server.PrivateMetrics = true
	router, err := p.server.Router()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(router)
	defer srv.Close()
	do := func(method, path string, hdr map[string]string, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	key := "Bearer " + p.key

	// Junk credentials from one client behind the proxy lock that client
	// out, not the proxy's other clients; valid credentials still pass.
	junk := map[string]string{"Authorization": "Bearer so_nope_nope", "X-Forwarded-For": "198.51.100.7"}
	locked := false
	for range 70 {
		if do("GET", "/api/v1/scans", junk, "").StatusCode == http.StatusTooManyRequests {
			locked = true
			break
		}
	}
	if !locked {
		t.Fatal("60+ failed authentications did not lock the client out")
	}
	if r := do("GET", "/api/v1/scans", map[string]string{"Authorization": "Bearer so_nope_nope", "X-Forwarded-For": "198.51.100.8"}, ""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("another client behind the same proxy: %d, want 401", r.StatusCode)
	}
	if r := do("GET", "/api/v1/scans", map[string]string{"Authorization": key, "X-Forwarded-For": "198.51.100.7"}, ""); r.StatusCode != http.StatusOK {
		t.Errorf("valid credentials from the locked client: %d, want 200", r.StatusCode)
	}

	// X-Request-Id: a bounded token is kept, anything else replaced.
	if r := do("GET", "/healthz", map[string]string{"X-Request-Id": "ci-run-42/step:3"}, ""); r.Header.Get("X-Request-Id") != "ci-run-42/step:3" {
		t.Errorf("a well-formed request id was replaced by %q", r.Header.Get("X-Request-Id"))
	}
	bad := "<script>" + strings.Repeat("x", 100)
	if got := do("GET", "/healthz", map[string]string{"X-Request-Id": bad}, "").Header.Get("X-Request-Id"); got == bad || got == "" || strings.ContainsAny(got, "<> ") {
		t.Errorf("a hostile request id came back as %q", got)
	}

	// A page elsewhere cannot post with the portal's cookie; a key can.
	body := `{"value":"127.0.0.1:9"}`
	json := map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}
	if r := do("POST", "/api/v1/targets", json, body); r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST with no header credential: %d, want 403", r.StatusCode)
	}
	if r := do("POST", "/api/v1/scans/import", map[string]string{"Origin": "https://evil.example", "Content-Type": "multipart/form-data; boundary=x"}, ""); r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin multipart import: %d, want 403", r.StatusCode)
	}
	json["Authorization"] = key
	if r := do("POST", "/api/v1/targets", json, body); r.StatusCode != http.StatusCreated && r.StatusCode != http.StatusOK {
		t.Errorf("cross-site POST with an API key: %d, want 201", r.StatusCode)
	}

	// 405 names what is allowed.
	r := do("DELETE", "/api/v1/scans", map[string]string{"Authorization": key}, "")
	if allow := r.Header.Get("Allow"); r.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("DELETE /api/v1/scans: %d Allow %q, want 405 with GET, POST", r.StatusCode, allow)
	}
	if r := do("GET", "/metrics", nil, ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the public port in production: %d, want 404", r.StatusCode)
	}
}
