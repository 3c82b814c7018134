// Command secureops is the single SecureOps binary: the all-in-one `dev`
// platform, the production `api`, `worker` and `migrate` processes, and
// operator tools.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/secureops/secureops/activities/email"
	"github.com/secureops/secureops/activities/stripe"
	"github.com/secureops/secureops/api"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/dojo"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/observability"
	"github.com/secureops/secureops/internal/temporalfx"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/workers"
)

func main() {
	root := &cobra.Command{
		Use:           "secureops",
		Short:         "SecureOps: multi-tenant security scanning as a service",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(apiCmd(), workerCmd(), migrateCmd(), findingsCmd(), adminCmd(), devCmd())
	root.AddCommand(stripeCmd(), probeCmd())
	root.AddCommand(temporalServerCmd())
	root.AddCommand(billingCmd())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "secureops:", err)
		os.Exit(1)
	}
}

func loadConfig(mode config.Mode) (config.Config, *slog.Logger, error) {
	return loadConfigFor(mode, true)
}

// loadConfigFor reads the environment and, in production, refuses published
// development secrets (and, when the process talks to Temporal, a missing
// payload codec key) before anything starts.
func loadConfigFor(mode config.Mode, temporal bool) (config.Config, *slog.Logger, error) {
	cfg, err := config.FromEnv(mode)
	if err != nil {
		return cfg, nil, err
	}
	if err := cfg.CheckProduction(temporal); err != nil {
		return cfg, nil, err
	}
	log := observability.NewLogger(os.Stderr, cfg.LogLevel)
	slog.SetDefault(log)
	return cfg, log, nil
}

// fxLogger keeps fx quiet unless something goes wrong or debugging is on.
func fxLogger(log *slog.Logger, level string) fx.Option {
	if level == "debug" {
		return fx.WithLogger(func() fxevent.Logger { return &fxevent.SlogLogger{Logger: log} })
	}
	return fx.WithLogger(func() fxevent.Logger { return quietFx{log} })
}

type quietFx struct{ log *slog.Logger }

func (q quietFx) LogEvent(e fxevent.Event) {
	switch ev := e.(type) {
	case *fxevent.OnStartExecuted:
		if ev.Err != nil {
			q.log.Error("start failed", "hook", ev.FunctionName, "error", ev.Err)
		}
	case *fxevent.OnStopExecuted:
		if ev.Err != nil {
			q.log.Error("stop failed", "hook", ev.FunctionName, "error", ev.Err)
		}
	case *fxevent.Started:
		if ev.Err != nil {
			q.log.Error("app start failed", "error", ev.Err)
		}
	}
}

// runApp starts an fx app and blocks until ctx ends (Ctrl-C, SIGTERM), then
// stops it within the shutdown timeout.
func runApp(ctx context.Context, cfg config.Config, opts ...fx.Option) error {
	app := fx.New(opts...)
	if err := app.Err(); err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, 2*cfgStartTimeout)
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		return err
	}
	<-ctx.Done()
	stopCtx, cancel2 := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel2()
	return app.Stop(stopCtx)
}

const cfgStartTimeout = time.Minute

func common(cfg config.Config, log *slog.Logger) fx.Option {
	return fx.Options(
		fx.Supply(cfg, log),
		fxLogger(log, cfg.LogLevel),
		observability.Module,
		db.Module,
		// One module per outside system, each with its own small config: the
		// API and the workers of a process share what they provide (fx only
		// builds what a process asks for).
		temporalfx.Module,
		kratos.Module,
		dojo.Module,
		stripe.Module,
		email.Module,
	)
}

func apiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API (production shape: Temporal at TEMPORAL_ADDRESS, Postgres at DATABASE_URL)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfig(config.ModeProduction)
			if err != nil {
				return err
			}
			opts := []fx.Option{common(cfg, log), api.Module}
			if cfg.Mode == config.ModeProduction {
				// Production keeps /metrics off the public port.
				opts = append(opts, fx.Invoke(func(lc fx.Lifecycle, m *observability.Metrics) {
					observability.ServeMetrics(lc, cfg.MetricsAddr, m, log)
				}))
			}
			return runApp(cmd.Context(), cfg, opts...)
		},
	}
}

func workerCmd() *cobra.Command {
	var queues []string
	c := &cobra.Command{
		Use:   "worker",
		Short: "Run Temporal workers for the given task queues (default: all)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfig(config.ModeProduction)
			if err != nil {
				return err
			}
			if len(queues) == 0 {
				if env := os.Getenv("WORKER_QUEUES"); env != "" {
					queues = strings.FieldsFunc(env, func(r rune) bool { return r == ',' || r == ' ' })
				}
			}
			qs, err := workers.ParseQueues(queues)
			if err != nil {
				return err
			}
			log.Info("worker starting", "queues", qs)
			return runApp(cmd.Context(), cfg, common(cfg, log),
				fx.Supply(workers.Queues(qs)),
				workers.DepsModule, workers.Module,
				fx.Invoke(func(lc fx.Lifecycle, m *observability.Metrics) {
					observability.ServeMetrics(lc, cfg.MetricsAddr, m, log)
				}),
			)
		},
	}
	c.Flags().StringSliceVar(&queues, "queues", nil, "task queues to serve, comma-separated ("+fmt.Sprint(temporalx.AllQueues)+")")
	return c
}

func migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations as the owner role (DATABASE_URL)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigFor(config.ModeProduction, false)
			if err != nil {
				return err
			}
			if cfg.DatabaseURL == "" {
				return errors.New("DATABASE_URL must be set to the owner role's DSN")
			}
			return db.Migrate(cmd.Context(), cfg.DatabaseURL, log, db.WithPassword(cfg.DatabasePassword))
		},
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return v
	}
	return def
}
