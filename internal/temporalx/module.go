package temporalx

import (
	"context"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.uber.org/fx"

	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/observability"
)

// Module provides a connected client.Client and closes it on stop.
var Module = fx.Module("temporal",
	fx.Provide(func(c config.Config) (*Codec, error) {
		if len(c.CodecKeys) == 0 {
			return nil, nil
		}
		return NewCodec(c.CodecKeys)
	}),
	fx.Provide(func(lc fx.Lifecycle, c config.Config, log *slog.Logger, m *observability.Metrics, codec *Codec) (client.Client, error) {
		cl, err := Dial(context.Background(), ClientOptions{
			HostPort: c.TemporalAddress, Namespace: c.TemporalNamespace, Logger: log, Metrics: m.Temporal, Codec: codec,
		})
		if err != nil {
			return nil, err
		}
		lc.Append(fx.StopHook(cl.Close))
		return cl, nil
	}),
)
