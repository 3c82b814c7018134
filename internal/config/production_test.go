package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/secureops/secureops/internal/secretbox"
)

func TestCheckProductionRefusesPublishedSecrets(t *testing.T) {
	key, err := secretbox.ParseKey("cmVhbC1zZWNyZXQta2V5LW9mLTMyLWJ5dGVzLWxvbmc=")
	if err != nil {
		t.Fatal(err)
	}
	good := Config{Mode: ModeProduction, DatabaseURL: "postgres://secureops:s3cret@db/secureops", AppDatabaseURL: "postgres://secureops_app:other@db/secureops"}
	good.CodecKeys = []*secretbox.Key{key}
	if err := good.CheckProduction(true); err != nil {
		t.Fatalf("real settings refused: %v", err)
	}
	cases := map[string]func(t *testing.T, c *Config){
		"TEMPORAL_CODEC_KEY is a published": func(t *testing.T, _ *Config) {
			t.Setenv("TEMPORAL_CODEC_KEY", "cmVhbC1zZWNyZXQta2V5LW9mLTMyLWJ5dGVzLWxvbmc=,ZGV2LW9ubHktY29kZWMta2V5LTMyLWJ5dGVzLWxvbmc=")
		},
		"SECUREOPS_SEAL_KEY is a published": func(t *testing.T, _ *Config) {
			t.Setenv("SECUREOPS_SEAL_KEY", "ZGV2LW9ubHktc2VhbC1rZXktMzItYnl0ZXMtbG9uZyE=")
		},
		"APP_DATABASE_URL uses a published": func(_ *testing.T, c *Config) {
			c.AppDatabaseURL = "postgres://secureops_app:secureops-app-dev-only@postgres:5432/secureops"
		},
		"DATABASE_URL uses a published":    func(_ *testing.T, c *Config) { c.DatabaseURL = "host=db user=secureops password=secureops-dev-only" },
		"TEMPORAL_CODEC_KEY is not set":    func(_ *testing.T, c *Config) { c.CodecKeys = nil },
		"DATABASE_PASSWORD is a published": func(_ *testing.T, c *Config) { c.DatabasePassword = "secureops-dev-only" },
		"PGPASSWORD is a published":        func(t *testing.T, _ *Config) { t.Setenv("PGPASSWORD", "secureops-app-dev-only") },
		"runs with --dev":                  func(t *testing.T, _ *Config) { t.Setenv("KRATOS_SERVE_FLAGS", "--dev --watch-courier") },
		"SECRETS_COOKIE is a published":    func(t *testing.T, _ *Config) { t.Setenv("SECRETS_COOKIE", "dev-cookie-secret-change-me-32chars!!") },
	}
	for want, mutate := range cases {
		t.Run(want, func(t *testing.T) {
			c := good
			mutate(t, &c)
			err := c.CheckProduction(true)
			if !errors.Is(err, ErrUnsafeProduction) || !strings.Contains(err.Error(), want) {
				t.Errorf("got %v, want a refusal saying %q", err, want)
			}
			c.Mode = ModeDev
			if err := c.CheckProduction(true); err != nil {
				t.Errorf("dev mode refused: %v", err)
			}
		})
	}
	noCodec := good
	noCodec.CodecKeys = nil
	if err := noCodec.CheckProduction(false); err != nil {
		t.Errorf("migrate (no Temporal) refused for a missing codec key: %v", err)
	}
}

func TestWebhookPolicyIgnoresScanAllowedRanges(t *testing.T) {
	c := Config{Mode: ModeProduction, ScanAllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	lab := netip.MustParseAddr("10.1.2.3")
	if err := c.ScanPolicy().Check(lab); err != nil {
		t.Fatalf("the scan policy refuses its allowed range: %v", err)
	}
	if err := c.WebhookPolicy().Check(lab); err == nil {
		t.Error("webhooks may be aimed at a range opened for scanning")
	}
}
