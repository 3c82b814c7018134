package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/secureops/secureops/internal/bootstrap"
)

// TestPortalSignedInDashboard: a person with a Kratos session opens /app and
// sees their tenant; without one, /app sends them to sign in.
func TestPortalSignedInDashboard(t *testing.T) {
	e := startPortal(t)
	ctx := context.Background()
	if _, err := bootstrap.CreateTenant(ctx, e.db, e.kr, bootstrap.TenantInput{
		Name: "Smoke Co", OwnerEmail: "owner@smoke.example.test", OwnerName: "Sam", OwnerPassword: "smoke-password-1",
	}); err != nil {
		t.Fatal(err)
	}
	anon := newTab(t)
	anon.open(e.URL + "/app")
	if u := anon.location(); !strings.Contains(u, "/auth/login") {
		t.Fatalf("anonymous /app went to %s, want the sign-in page", u)
	}

	tb := newTab(t)
	tb.signIn(e.kratosPublic, "owner@smoke.example.test", "smoke-password-1")
	tb.open(e.URL + "/app")
	if got := tb.text("main h1"); got != "Dashboard" {
		t.Fatalf("heading %q", got)
	}
	if got := tb.text("main"); !strings.Contains(got, "Smoke Co") {
		t.Fatalf("dashboard does not name the tenant: %q", got)
	}
}
