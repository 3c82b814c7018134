package email

import (
	"github.com/resend/resend-go/v2"
	"go.uber.org/fx"

	"github.com/secureops/secureops/internal/config"
)

// Config is what sending email needs from the process's configuration.
type Config struct {
	// Provider is "resend" or "outbox" (the local outbox only).
	Provider      string
	ResendAPIKey  string
	ResendAPIBase string
}

// ConfigFrom picks the email settings out of the process configuration.
func ConfigFrom(c config.Config) Config {
	return Config{Provider: c.EmailProvider, ResendAPIKey: c.ResendAPIKey, ResendAPIBase: c.ResendAPIBase}
}

// FromConfig builds the Resend client, or nil when mail goes only to the
// outbox.
func FromConfig(c Config) (*resend.Client, error) {
	if c.Provider != "resend" {
		return nil, nil
	}
	return NewResend(c.ResendAPIKey, c.ResendAPIBase)
}

// Module provides one Resend client for the process.
var Module = fx.Module("email", fx.Provide(ConfigFrom, FromConfig))
