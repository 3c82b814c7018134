package api

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	stripeclient "github.com/stripe/stripe-go/v76/client"
	"go.temporal.io/sdk/client"
	"go.uber.org/fx"

	"github.com/secureops/secureops/internal/clientip"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/observability"
	"github.com/secureops/secureops/internal/portal"
	"github.com/secureops/secureops/internal/sso"
	"github.com/secureops/secureops/internal/temporalx"
)

// Listener is the API's bound address, known once the app has started.
type Listener struct{ Addr net.Addr }

// Module serves the API on config.HTTPAddr for the app's lifetime.
var Module = fx.Module("api",
	// The Temporal and Kratos clients come from their own modules
	// (temporalfx.Module, kratos.Module), shared with the workers of the
	// process; kc is nil when Kratos is not configured.
	fx.Provide(func(d *db.DB, tc client.Client, m *observability.Metrics, c config.Config, log *slog.Logger, codec *temporalx.Codec, kc *kratos.Client, sc *stripeclient.API) (*Server, error) {
		ips, err := clientip.New(c.TrustedProxies)
		if err != nil {
			return nil, err
		}
		s := &Server{
			ClientIP: ips, PrivateMetrics: c.Mode == config.ModeProduction, AdminsNeedMFA: c.Mode == config.ModeProduction,
			KratosHookSecret: c.KratosHookSecret, Brand: c.Brand, EmailTemplates: c.EmailTemplates,
			DB: d, Temporal: tc, Metrics: m, Log: log, RateLimit: c.RateLimit, Kratos: kc,
			Policy: c.ScanPolicy(), ScanLimits: c.ScanLimits, InstalledScanners: c.InstalledScanners(),
			Onboarding: OnboardingOptions{
				SignupRateLimit: c.SignupRateLimit, SealKey: c.SealKey, Codec: codec, CodecCORSOrigins: c.CodecCORSOrigins,
			},
			Billing: BillingOptions{WebhookSecret: c.StripeWebhookSecret, Stripe: sc, PublicURL: c.PublicURL},
			SSO:     NewSSOOptions(c, d, kc, log),
		}
		s.Portal = portal.New(portal.Deps{
			Kratos: kc, KratosBrowserURL: cmp.Or(c.KratosBrowserURL, c.KratosPublicURL),
			TemporalUIURL: c.TemporalUIURL, Namespace: c.TemporalNamespace, Brand: c.Brand, Log: log,
			IdentityProviders: sso.Origins(c.OIDCProviders),
		}).Handler
		return s, nil
	}),
	fx.Provide(func(lc fx.Lifecycle, s *Server, c config.Config, log *slog.Logger) (*Listener, error) {
		l := &Listener{}
		router, err := s.Router()
		if err != nil {
			return nil, err
		}
		srv := NewHTTPServer(router)
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error {
				ln, err := net.Listen("tcp", c.HTTPAddr)
				if err != nil {
					return err
				}
				l.Addr = ln.Addr()
				log.Info("API listening", "addr", ln.Addr().String())
				go func() {
					if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
						log.Error("API server", "error", err)
					}
				}()
				return nil
			},
			OnStop: func(ctx context.Context) error { return srv.Shutdown(ctx) },
		})
		return l, nil
	}),
	fx.Invoke(func(*Listener) {}),
)

// ReadTimeout bounds reading a request, body included; imports extend it for
// their upload (importReadTimeout). It does not touch responses: a server
// clears the read deadline once a bodiless request is read, so event streams
// write for as long as they last.
const ReadTimeout = time.Minute

// NewHTTPServer is the API's server with its timeouts: a slow client cannot
// hold a connection by trickling headers, a body or nothing at all.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       2 * time.Minute,
	}
}
