package stripe

import (
	"github.com/stripe/stripe-go/v76/client"
	"go.uber.org/fx"

	"github.com/secureops/secureops/internal/config"
)

// Config is what the Stripe client needs from the process's configuration.
type Config struct {
	SecretKey string
	APIBase   string
}

// ConfigFrom picks the Stripe settings out of the process configuration.
func ConfigFrom(c config.Config) Config {
	return Config{SecretKey: c.StripeSecretKey, APIBase: c.StripeAPIBase}
}

// FromConfig builds the API client, or nil when Stripe is not configured
// (onboarding then skips billing).
func FromConfig(c Config) *client.API {
	if c.SecretKey == "" && c.APIBase == "" {
		return nil
	}
	return NewAPI(c.SecretKey, c.APIBase)
}

// Module provides one Stripe *client.API for the process.
var Module = fx.Module("stripe", fx.Provide(ConfigFrom, FromConfig))
