package temporalx

import (
	"context"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.uber.org/fx"

	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/observability"
	"github.com/secureops/secureops/internal/secretbox"
)

// Config is what the Temporal client needs from the process's configuration.
type Config struct {
	HostPort  string
	Namespace string
	// CodecKeys encrypt payloads (TEMPORAL_CODEC_KEY); none: plain payloads.
	CodecKeys []*secretbox.Key
}

// ConfigFrom picks the Temporal settings out of the process configuration.
func ConfigFrom(c config.Config) Config {
	return Config{HostPort: c.TemporalAddress, Namespace: c.TemporalNamespace, CodecKeys: c.CodecKeys}
}

// CodecFromConfig builds the payload codec, or nil without keys.
func CodecFromConfig(c Config) (*Codec, error) {
	if len(c.CodecKeys) == 0 {
		return nil, nil
	}
	return NewCodec(c.CodecKeys)
}

// Module provides one connected client.Client (and its payload codec) for
// the process, shared by the API and the workers, and closes it on stop.
var Module = fx.Module("temporal",
	fx.Provide(ConfigFrom, CodecFromConfig),
	fx.Provide(func(lc fx.Lifecycle, c Config, log *slog.Logger, m *observability.Metrics, codec *Codec) (client.Client, error) {
		cl, err := Dial(context.Background(), ClientOptions{
			HostPort: c.HostPort, Namespace: c.Namespace, Logger: log, Metrics: m.Temporal, Codec: codec,
		})
		if err != nil {
			return nil, err
		}
		lc.Append(fx.StopHook(cl.Close))
		return cl, nil
	}),
)
