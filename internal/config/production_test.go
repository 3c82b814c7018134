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
	good.Identity = Identity{TOTPIssuer: "SecureOps", WebAuthnRPID: "secureops.example.com", WebAuthnRPOrigins: []string{"https://secureops.example.com"}}
	good.Brand.Name = "SecureOps"
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

// Issue 18: production refuses the TOTP issuer and WebAuthn relying party
// left at deploy/kratos/kratos.yml's development values.
func TestCheckProductionRefusesDevSecondFactorSettings(t *testing.T) {
	key, err := secretbox.ParseKey("cmVhbC1zZWNyZXQta2V5LW9mLTMyLWJ5dGVzLWxvbmc=")
	if err != nil {
		t.Fatal(err)
	}
	good := Config{Mode: ModeProduction}
	good.CodecKeys = []*secretbox.Key{key}
	good.Brand.Name = "Acme Shield"
	good.Identity = Identity{TOTPIssuer: "Acme Shield", WebAuthnRPID: "acme.example", WebAuthnRPOrigins: []string{"https://portal.acme.example", "https://acme.example"}}
	if err := good.CheckProduction(true); err != nil {
		t.Fatalf("real settings refused: %v", err)
	}
	cases := map[string]func(c *Config){
		"TOTP_ISSUER is not set":                                         func(c *Config) { c.TOTPIssuer = "" },
		"TOTP_ISSUER is the development value":                           func(c *Config) { c.TOTPIssuer = DevTOTPIssuer },
		"WEBAUTHN_RP_ID is not set":                                      func(c *Config) { c.WebAuthnRPID = "" },
		"WEBAUTHN_RP_ID localhost is not a public":                       func(c *Config) { c.WebAuthnRPID = "localhost" },
		"WEBAUTHN_RP_ID 10.0.0.7 is not a public":                        func(c *Config) { c.WebAuthnRPID = "10.0.0.7" },
		"WEBAUTHN_RP_ID :80 is not a public":                             func(c *Config) { c.WebAuthnRPID = ":80" },
		"WEBAUTHN_RP_ORIGINS is not set":                                 func(c *Config) { c.WebAuthnRPOrigins = nil },
		"WEBAUTHN_RP_ORIGINS http://localhost:8080 is not an https":      func(c *Config) { c.WebAuthnRPOrigins = []string{"http://localhost:8080"} },
		"WEBAUTHN_RP_ORIGINS http://acme.example is not an https":        func(c *Config) { c.WebAuthnRPOrigins = []string{"http://acme.example"} },
		"WEBAUTHN_RP_ORIGINS https://evil.example is not on WEBAUTHN_RP": func(c *Config) { c.WebAuthnRPOrigins = []string{"https://evil.example"} },
	}
	for want, mutate := range cases {
		t.Run(want, func(t *testing.T) {
			c := good
			c.WebAuthnRPOrigins = append([]string(nil), good.WebAuthnRPOrigins...)
			mutate(&c)
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
	// The platform's own brand may keep its own name as the issuer.
	own := good
	own.Brand.Name, own.TOTPIssuer = "SecureOps", "SecureOps"
	if err := own.CheckProduction(true); err != nil {
		t.Errorf("SecureOps' own issuer under its own brand refused: %v", err)
	}
	t.Setenv("TOTP_ISSUER", " Acme Shield ")
	t.Setenv("WEBAUTHN_RP_ID", "Acme.Example")
	t.Setenv("WEBAUTHN_RP_ORIGINS", "https://portal.acme.example/, https://acme.example")
	c, err := FromEnv(ModeDev)
	if err != nil {
		t.Fatal(err)
	}
	if c.TOTPIssuer != "Acme Shield" || c.WebAuthnRPID != "acme.example" || strings.Join(c.WebAuthnRPOrigins, " ") != "https://portal.acme.example https://acme.example" {
		t.Errorf("read %+v", c.Identity)
	}
}
