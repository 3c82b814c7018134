package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
)

// publishedSecrets are the values this repository ships for developer
// machines (docker-compose.yml defaults, .env.example, deploy/kratos): anyone
// can read them, so production must never run with one.
var publishedSecrets = []string{
	"ZGV2LW9ubHktY29kZWMta2V5LTMyLWJ5dGVzLWxvbmc=", // TEMPORAL_CODEC_KEY
	"ZGV2LW9ubHktc2VhbC1rZXktMzItYnl0ZXMtbG9uZyE=", // SECUREOPS_SEAL_KEY
	"postgres-dev-only", "secureops-dev-only", "secureops-app-dev-only", "kratos-dev-only", "temporal-dev-only",
	"dev-cookie-secret-change-me-32chars!!", "dev-cipher-secret-32-characters!", // Kratos secrets
	DevKratosHookSecret,
}

// DevKratosHookSecret is the settings hook's secret in deploy/kratos/kratos.yml.
const DevKratosHookSecret = "dev-kratos-hook-secret-change-me"

// ErrUnsafeProduction is returned when production would start with a setting
// meant for developer machines.
var ErrUnsafeProduction = errors.New("unsafe production settings")

var dsnPassword = regexp.MustCompile(`(?:^|\s)password=(?:'([^']*)'|(\S+))`)

// CheckProduction refuses, in production mode, settings that would run the
// platform with public secrets or without payload encryption: a published
// dev key or password, no TEMPORAL_CODEC_KEY where a process talks to
// Temporal (needsCodec), or Ory Kratos started with --dev. Other modes pass.
func (c Config) CheckProduction(needsCodec bool) error {
	if c.Mode != ModeProduction {
		return nil
	}
	var problems []string
	published := func(name, v string) {
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			if slices.Contains(publishedSecrets, part) {
				problems = append(problems, name+" is a published development value")
				return
			}
		}
	}
	for _, name := range []string{"TEMPORAL_CODEC_KEY", "SECUREOPS_SEAL_KEY", "SECRETS_COOKIE", "SECRETS_CIPHER", "KRATOS_SECRETS_COOKIE", "KRATOS_SECRETS_CIPHER", "KRATOS_HOOK_SECRET"} {
		published(name, os.Getenv(name))
	}
	for _, d := range []struct{ name, dsn string }{{"DATABASE_URL", c.DatabaseURL}, {"APP_DATABASE_URL", c.AppDatabaseURL}} {
		if pw := dsnPasswordOf(d.dsn); pw != "" && slices.Contains(publishedSecrets, pw) {
			problems = append(problems, d.name+" uses a published development password")
		}
	}
	for _, p := range []struct{ name, pw string }{
		{"DATABASE_PASSWORD", c.DatabasePassword}, {"APP_DATABASE_PASSWORD", c.AppDatabasePassword}, {"PGPASSWORD", os.Getenv("PGPASSWORD")},
	} {
		if slices.Contains(publishedSecrets, p.pw) {
			problems = append(problems, p.name+" is a published development value")
		}
	}
	if needsCodec && len(c.CodecKeys) == 0 {
		problems = append(problems, "TEMPORAL_CODEC_KEY is not set: workflow payloads (emails, targets, findings) would reach Temporal unencrypted")
	}
	// Compose hands Kratos' serve flags to every service, so a Kratos started
	// with --dev (insecure cookies and redirects) is seen here.
	if strings.Contains(" "+os.Getenv("KRATOS_SERVE_FLAGS")+" ", " --dev ") {
		problems = append(problems, "Ory Kratos runs with --dev (KRATOS_SERVE_FLAGS), which disables its security features")
	}
	problems = append(problems, c.Identity.productionProblems(c.Brand.Name)...)
	if len(problems) > 0 {
		return fmt.Errorf("%w (SECUREOPS_ENV=production): %s; set real values (see .env.example) or run with SECUREOPS_ENV=dev", ErrUnsafeProduction, strings.Join(problems, "; "))
	}
	return nil
}

func dsnPasswordOf(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		pw, _ := u.User.Password()
		return pw
	}
	if m := dsnPassword.FindStringSubmatch(dsn); m != nil {
		return m[1] + m[2]
	}
	return ""
}
