//go:build devserver

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/fx"

	"github.com/secureops/secureops/api"
	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/devlock"
	"github.com/secureops/secureops/internal/devserver"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/kratosdev"
	"github.com/secureops/secureops/internal/pgcluster"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/workers"
)

func devCmd() *cobra.Command {
	var dataDir string
	var apiPort, temporalPort, uiPort, kratosPublic, kratosAdmin, stripePort int
	c := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole platform in one process on embedded defaults (Temporal + UI, PostgreSQL, API, workers)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Getenv("SECUREOPS_ENV") == "" {
				_ = os.Setenv("SECUREOPS_ENV", string(config.ModeDev))
			}
			cfg, log, err := loadConfig(config.ModeDev)
			if err != nil {
				return err
			}
			if cfg.Mode == config.ModeProduction {
				return fmt.Errorf("dev refuses SECUREOPS_ENV=production: it would scan with production policy against an embedded stack")
			}
			ctx := cmd.Context()
			if err := os.MkdirAll(dataDir, 0o755); err != nil {
				return err
			}
			abs, _ := filepath.Abs(dataDir)
			// One `secureops dev` per data directory. The kernel drops the
			// lock when its holder dies, however it dies, so a free lock
			// means whatever still runs in .data (PostgreSQL, Kratos,
			// stripe-mock) was left by a dead run and may be stopped.
			lock, err := devlock.Acquire(filepath.Join(abs, "dev.lock"))
			if err != nil {
				return fmt.Errorf("another `secureops dev` uses %s: %w", abs, err)
			}
			defer lock.Release()

			// PostgreSQL: the given server, or a cluster of our own under .data/pg.
			if cfg.DatabaseURL == "" {
				cl, err := pgcluster.Start(ctx, filepath.Join(abs, "pg"), log)
				if err != nil {
					return fmt.Errorf("local PostgreSQL: %w", err)
				}
				defer func() {
					if err := cl.Stop(); err != nil {
						log.Error("stopping PostgreSQL", "error", err)
					}
				}()
				if err := cl.EnsureDatabase(ctx, "secureops"); err != nil {
					return err
				}
				cfg.DatabaseURL = cl.DSN("secureops", pgcluster.SuperUser)
				cfg.AppDatabaseURL = ""
			}
			if cfg.AppDatabaseURL == "" {
				if cfg.AppDatabaseURL, err = config.AppDSN(cfg.DatabaseURL); err != nil {
					return err
				}
			}
			if err := db.Migrate(ctx, cfg.DatabaseURL, log, db.WithPassword(cfg.DatabasePassword)); err != nil {
				return err
			}

			if os.Getenv("HTTP_ADDR") == "" {
				cfg.HTTPAddr = "127.0.0.1:" + strconv.Itoa(apiPort)
			}
			if os.Getenv("SECUREOPS_PUBLIC_URL") == "" {
				cfg.PublicURL = browserURL(cfg.HTTPAddr)
			}
			// Kratos: real, with its identities in SQLite under .data/kratos,
			// its flows' pages served by the portal on HTTP_ADDR.
			if cfg.KratosPublicURL == "" {
				kp, err := kratosdev.Start(ctx, kratosdev.Options{
					Dir: filepath.Join(abs, "kratos"), PublicPort: kratosPublic, AdminPort: kratosAdmin, SQLite: true, Log: log,
					UIURL: browserURL(cfg.HTTPAddr), Host: os.Getenv("DEV_BROWSER_HOST"), OIDCProviders: cfg.OIDCProviders,
				})
				if err != nil {
					return fmt.Errorf("Kratos: %w", err)
				}
				defer kp.Stop()
				cfg.KratosPublicURL, cfg.KratosAdminURL = kp.PublicURL, kp.AdminURL
				if cfg.KratosBrowserURL == "" {
					cfg.KratosBrowserURL = kp.BrowserURL
				}
			}

			stopOnboarding, err := devOnboarding(ctx, &cfg, abs, stripePort, log)
			if err != nil {
				return err
			}
			defer stopOnboarding()
			codecEndpoint := ""
			if len(cfg.CodecKeys) > 0 && !strings.HasPrefix(cfg.HTTPAddr, ":") {
				// The Web UI decodes payloads through the API, with the
				// platform admin's Kratos session cookie.
				codecEndpoint = "http://" + cfg.HTTPAddr + "/api/v1/codec"
				cfg.CodecCORSOrigins = append(cfg.CodecCORSOrigins,
					"http://127.0.0.1:"+strconv.Itoa(uiPort), "http://localhost:"+strconv.Itoa(uiPort))
			}

			ts, err := devserver.Start(ctx, devserver.Options{
				DBFile:           filepath.Join(abs, "temporal.db"),
				FrontendPort:     temporalPort,
				UIPort:           uiPort,
				Namespace:        cfg.TemporalNamespace,
				SearchAttributes: temporalx.SearchAttributeTypes,
				Logger:           log.With("component", "temporal-server"),
				UICodecEndpoint:  codecEndpoint,
			})
			if err != nil {
				return fmt.Errorf("embedded Temporal server: %w", err)
			}
			defer func() {
				if err := ts.Stop(); err != nil {
					log.Error("stopping Temporal", "error", err)
				}
			}()
			cfg.TemporalAddress = ts.FrontendHostPort()
			if cfg.TemporalUIURL == "" {
				cfg.TemporalUIURL = ts.UIURL()
			}

			var lis *api.Listener
			app := fx.New(
				common(cfg, log),
				api.Module,
				fx.Supply(workers.Queues(temporalx.AllQueues)),
				workers.DepsModule, workers.Module,
				fx.Populate(&lis),
			)
			if err := app.Err(); err != nil {
				return err
			}
			startCtx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := app.Start(startCtx); err != nil {
				return err
			}
			demo, err := seedDemo(ctx, cfg, abs)
			if err != nil {
				return fmt.Errorf("seeding the demo tenant: %w", err)
			}
			endpoints := [][2]string{
				{"SECUREOPS_API_URL", "http://" + lis.Addr.String()},
				{"TEMPORAL_UI_URL", ts.UIURL()},
				{"TEMPORAL_ADDRESS", ts.FrontendHostPort()},
				{"TEMPORAL_NAMESPACE", ts.Namespace()},
				{"DATABASE_URL", cfg.DatabaseURL},
				{"APP_DATABASE_URL", cfg.AppDatabaseURL},
				{"KRATOS_PUBLIC_URL", cfg.KratosPublicURL},
				{"KRATOS_ADMIN_URL", cfg.KratosAdminURL},
				{"SECUREOPS_DEMO_API_KEY", demo.APIKey},
				{"STRIPE_API_BASE", cfg.StripeAPIBase},
				{"STRIPE_WEBHOOK_SECRET", cfg.StripeWebhookSecret},
			}
			if err := writeEndpoints(filepath.Join(abs, "endpoints.env"), endpoints); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "SecureOps is ready:")
			for _, kv := range endpoints {
				fmt.Fprintf(cmd.OutOrStdout(), "  %-20s %s\n", kv[0], kv[1])
			}
			fmt.Fprintf(cmd.OutOrStdout(), "  %-20s %s\n", "Portal", browserURL(lis.Addr.String())+"/")
			fmt.Fprintf(cmd.OutOrStdout(), "  %-20s %s\n", "API docs", "http://"+lis.Addr.String()+"/docs")
			if demo.Password != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "Sign in to the portal as the demo owner: %s / %s\n", demo.Email, demo.Password)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Demo owner: %s (its password was lost with .data/demo-owner-password; delete .data to start afresh)\n", demo.Email)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Press Ctrl-C to stop.")

			<-ctx.Done()
			log.Info("shutting down")
			stopCtx, cancel2 := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel2()
			return app.Stop(stopCtx)
		},
	}
	c.Flags().StringVar(&dataDir, "data-dir", envOr("DATA_DIR", ".data"), "where PostgreSQL, Temporal and endpoints.env live")
	c.Flags().IntVar(&apiPort, "api-port", envInt("API_PORT", 8080), "API port (HTTP_ADDR overrides)")
	c.Flags().IntVar(&temporalPort, "temporal-port", envInt("TEMPORAL_PORT", 7233), "Temporal frontend port")
	c.Flags().IntVar(&uiPort, "ui-port", envInt("TEMPORAL_UI_PORT", 8233), "Temporal Web UI port")
	c.Flags().IntVar(&kratosPublic, "kratos-public-port", envInt("KRATOS_PUBLIC_PORT", 4433), "Kratos public API port")
	c.Flags().IntVar(&kratosAdmin, "kratos-admin-port", envInt("KRATOS_ADMIN_PORT", 4434), "Kratos admin API port")
	c.Flags().IntVar(&stripePort, "stripe-mock-port", envInt("STRIPE_MOCK_PORT", 12111), "stripe-mock HTTP port (HTTPS on the next port)")
	return c
}

// writeEndpoints writes shell KEY=value lines (values quoted for sh), atomically
// so a script sourcing it never reads half a file.
func writeEndpoints(path string, kvs [][2]string) error {
	var b strings.Builder
	b.WriteString("# Written by `secureops dev` on every start; source it from a shell.\n")
	for _, kv := range kvs {
		fmt.Fprintf(&b, "%s='%s'\n", kv[0], strings.ReplaceAll(kv[1], "'", `'\''`))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

type demoSeed struct {
	Email, Password, APIKey string
}

// seedDemo makes sure the demo tenant, its owner and a demo API key exist.
// The key's secret is kept in .data/demo-api-key (dev data, mode 0600) so
// later starts can publish the same key; the owner's password is generated
// when the identity is first created and kept in .data/demo-owner-password.
func seedDemo(ctx context.Context, cfg config.Config, dataDir string) (demoSeed, error) {
	d, err := db.Open(ctx, cfg.AppDatabaseURL, db.WithPassword(cfg.AppDatabasePassword))
	if err != nil {
		return demoSeed{}, err
	}
	defer d.Close()
	kr := kratos.New(cfg.KratosPublicURL, cfg.KratosAdminURL, nil, time.Second)
	seed := demoSeed{Email: "owner@demo.secureops.local"}
	pw := make([]byte, 12)
	if _, err := rand.Read(pw); err != nil {
		return seed, err
	}
	password := hex.EncodeToString(pw)
	t, err := bootstrap.CreateTenant(ctx, d, kr, bootstrap.TenantInput{
		Name: "Demo Company", Slug: "demo", Tier: "pro", OwnerEmail: seed.Email, OwnerName: "Demo Owner",
		OwnerPassword: password, Existing: true,
	})
	if err != nil {
		return seed, err
	}
	// Like the key below, the password stays in the dev data directory
	// (mode 0600) so every start can tell the person how to sign in.
	pwFile := filepath.Join(dataDir, "demo-owner-password")
	if t.OwnerCreated {
		seed.Password = password
		if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
			return seed, err
		}
	} else if b, err := os.ReadFile(pwFile); err == nil {
		seed.Password = strings.TrimSpace(string(b))
	}
	keyFile := filepath.Join(dataDir, "demo-api-key")
	if b, err := os.ReadFile(keyFile); err == nil && !t.Created {
		seed.APIKey = strings.TrimSpace(string(b))
		return seed, nil
	}
	key, _, err := bootstrap.CreateAPIKey(ctx, d, t.Slug, auth.RoleClientAdmin, nil, "demo")
	if err != nil {
		return seed, err
	}
	seed.APIKey = key
	return seed, os.WriteFile(keyFile, []byte(key+"\n"), 0o600)
}

// browserURL is portalURL with DEV_BROWSER_HOST (make run: localhost) for
// the loopback host: WebAuthn's relying party must be a domain, and the
// portal and Kratos share one host spelling (Kratos' CSRF cookie is per host).
func browserURL(addr string) string {
	u := portalURL(addr)
	if h := os.Getenv("DEV_BROWSER_HOST"); h != "" {
		if _, port, err := net.SplitHostPort(strings.TrimPrefix(u, "http://")); err == nil {
			return "http://" + net.JoinHostPort(h, port)
		}
	}
	return u
}

// portalURL is the portal's address as a browser spells it: 127.0.0.1 for a
// wildcard bind, never localhost (Kratos' CSRF cookie is per host name).
func portalURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
