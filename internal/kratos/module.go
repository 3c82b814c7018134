package kratos

import (
	"go.uber.org/fx"

	"github.com/secureops/secureops/internal/config"
)

// Config is what the client needs from the process's configuration.
type Config struct {
	PublicURL string
	AdminURL  string
}

// ConfigFrom picks the Kratos settings out of the process configuration.
func ConfigFrom(c config.Config) Config {
	return Config{PublicURL: c.KratosPublicURL, AdminURL: c.KratosAdminURL}
}

// FromConfig builds the client, or nil when Kratos is not configured (the
// API then refuses sessions, onboarding skips the owner's identity). Sessions
// are cached for DefaultCacheTTL; the admin calls onboarding makes are not cached.
func FromConfig(c Config) *Client {
	if c.PublicURL == "" || c.AdminURL == "" {
		return nil
	}
	return New(c.PublicURL, c.AdminURL, nil, DefaultCacheTTL)
}

// Module provides one *Client for the process: the API's session checks and
// the onboarding workers' identity activities share it.
var Module = fx.Module("kratos", fx.Provide(ConfigFrom, FromConfig))
