package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
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
