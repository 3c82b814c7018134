package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/secureops/secureops/internal/sso"
)

// SSO is single sign-on through the customers' OpenID Connect providers.
type SSO struct {
	// OIDCProviders (OIDC_PROVIDERS, or OIDC_PROVIDERS_FILE: it holds client
	// secrets) is a JSON array of identity providers (sso.Provider). The API
	// re-checks sessions against them; Kratos gets the same list in its own
	// shape (`secureops admin sso kratos-providers`, or kratosdev in dev).
	OIDCProviders []sso.Provider
	// SSORecheckInterval (SSO_RECHECK_INTERVAL, default 5m) is how long a
	// single sign-on session is trusted before its provider is asked again
	// whether it still knows the person.
	SSORecheckInterval time.Duration
}

func loadSSO(c *Config) error {
	raw, err := secretSetting("OIDC_PROVIDERS")
	if err != nil {
		return err
	}
	ps, err := sso.ParseProviders(raw)
	if err != nil {
		return err
	}
	if c.Mode == ModeProduction {
		for _, p := range ps {
			if u, _ := url.Parse(p.Issuer); u.Scheme != "https" {
				return fmt.Errorf("OIDC_PROVIDERS[%s]: issuer %q: production wants https", p.ID, p.Issuer)
			}
		}
	}
	c.SSO = SSO{OIDCProviders: ps, SSORecheckInterval: sso.DefaultRecheckInterval}
	if v := strings.TrimSpace(os.Getenv("SSO_RECHECK_INTERVAL")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return fmt.Errorf("SSO_RECHECK_INTERVAL=%q: want a duration of at least 1s (e.g. 5m)", v)
		}
		c.SSORecheckInterval = d
	}
	return nil
}
