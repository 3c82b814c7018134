// Package temporalfx provides the process's Temporal client as an fx module,
// built from its configuration. It lives apart from internal/temporalx, which
// the contracts import: they must not depend on the configuration (and,
// through it, the domain).
package temporalfx

import (
	"context"
	"crypto/tls"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.uber.org/fx"

	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/observability"
	"github.com/secureops/secureops/internal/secretbox"
	"github.com/secureops/secureops/internal/temporalx"
)

// Config is what the Temporal client needs from the process's configuration.
type Config struct {
	HostPort  string
	Namespace string
	// CodecKeys encrypt payloads (TEMPORAL_CODEC_KEY); none: plain payloads.
	CodecKeys []*secretbox.Key
	// TLS and APIKey reach Temporal Cloud or a TLS frontend (nil, "": plain).
	TLS    *tls.Config
	APIKey string
}

// ConfigFrom picks the Temporal settings out of the process configuration.
func ConfigFrom(c config.Config) (Config, error) {
	t, err := c.TemporalTLSConfig()
	return Config{HostPort: c.TemporalAddress, Namespace: c.TemporalNamespace, CodecKeys: c.CodecKeys, TLS: t, APIKey: c.TemporalAPIKey}, err
}

// CodecFromConfig builds the payload codec, or nil without keys.
func CodecFromConfig(c Config) (*temporalx.Codec, error) {
	if len(c.CodecKeys) == 0 {
		return nil, nil
	}
	return temporalx.NewCodec(c.CodecKeys)
}

// Module provides one connected client.Client (and its payload codec) for
// the process, shared by the API and the workers, and closes it on stop.
var Module = fx.Module("temporal",
	fx.Provide(ConfigFrom, CodecFromConfig),
	fx.Provide(func(lc fx.Lifecycle, c Config, log *slog.Logger, m *observability.Metrics, codec *temporalx.Codec) (client.Client, error) {
		cl, err := temporalx.Dial(context.Background(), temporalx.ClientOptions{
			HostPort: c.HostPort, Namespace: c.Namespace, Logger: log, Metrics: m.Temporal, Codec: codec, TLS: c.TLS, APIKey: c.APIKey,
		})
		if err != nil {
			return nil, err
		}
		lc.Append(fx.StopHook(cl.Close))
		return cl, nil
	}),
)
