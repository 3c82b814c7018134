package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
)

// A key works until its expiry and not a moment after; a key without an
// expiry works until revoked.
func TestAPIKeyExpiry(t *testing.T) {
	p := startWith(t, options{noWorkers: true})
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: "Expiry Co"})
	if err != nil {
		t.Fatal(err)
	}
	get := func(key string) int {
		req, _ := http.NewRequest("GET", p.api.URL+"/api/v1/scans", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		name    string
		expires string // SQL expression, "" for none
		want    int
	}{
		{"no expiry", "", http.StatusOK},
		{"expires in a minute", "now() + interval '1 minute'", http.StatusOK},
		{"expired a second ago", "now() - interval '1 second'", http.StatusUnauthorized},
		{"expired a year ago", "now() - interval '1 year'", http.StatusUnauthorized},
	} {
		key, id, err := bootstrap.CreateAPIKey(ctx, p.db, ten.Slug, auth.RoleClientReadonly, nil, c.name)
		if err != nil {
			t.Fatal(err)
		}
		if c.expires != "" {
			err := p.db.InTx(ctx, db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "UPDATE api_keys SET expires_at = "+c.expires+" WHERE id = $1", id)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := get(key); got != c.want {
			t.Errorf("%s: GET /api/v1/scans = %d, want %d", c.name, got, c.want)
		}
	}
}
