package dojo

import (
	"net/http"
	"time"

	"go.uber.org/fx"

	"github.com/secureops/secureops/internal/config"
)

// Config is what the client needs from the process's configuration.
type Config struct {
	URL   string
	Token string
}

// ConfigFrom picks the DefectDojo settings out of the process configuration.
func ConfigFrom(c config.Config) Config {
	return Config{URL: c.DefectDojoURL, Token: c.DefectDojoToken}
}

// FromConfig builds the client, or nil when DefectDojo is not configured. A
// request may take minutes (a re-import uploads a whole report); each
// activity's own deadline cuts shorter calls sooner.
func FromConfig(c Config) *Client {
	if c.URL == "" {
		return nil
	}
	return New(c.URL, c.Token, &http.Client{Timeout: 5 * time.Minute})
}

// Module provides one *Client for the process: the product steps of
// onboarding and the scans' re-imports share it.
var Module = fx.Module("defectdojo", fx.Provide(ConfigFrom, FromConfig))
