package observability

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.uber.org/fx"
)

// Module provides the metrics registry (the logger is supplied by the caller,
// which builds it before fx so that fx's own errors are logged the same way).
var Module = fx.Module("observability",
	fx.Provide(func(lc fx.Lifecycle) (*Metrics, error) {
		m, err := NewMetrics()
		if err != nil {
			return nil, err
		}
		lc.Append(fx.StopHook(m.Close))
		return m, nil
	}),
)

// ServeMetrics serves /metrics (and /healthz) on addr for processes without
// the API, i.e. workers, for the app's lifetime.
func ServeMetrics(lc fx.Lifecycle, addr string, m *Metrics, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			log.Info("metrics listening", "addr", ln.Addr().String())
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("metrics server", "error", err)
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error { return srv.Shutdown(ctx) },
	})
}
