// Package api is the HTTP API: a chi router, its middleware and handlers.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/brand"
	"github.com/secureops/secureops/internal/clientip"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/mailtmpl"
	"github.com/secureops/secureops/internal/observability"
	"github.com/secureops/secureops/internal/scans"
	"github.com/secureops/secureops/internal/targets"
)

// Server holds the handlers' dependencies.
type Server struct {
	// ClientIP finds the client's address behind TRUSTED_PROXIES (nil: the
	// socket's peer).
	ClientIP *clientip.Resolver
	// PrivateMetrics serves /metrics only on METRICS_ADDR (production), not
	// on the public API port.
	PrivateMetrics bool
	// AdminsNeedMFA: platform admins' sessions must have used a second
	// factor (production).
	AdminsNeedMFA bool
	// KratosHookSecret authenticates Kratos' settings hook ("" : no hook).
	KratosHookSecret string
	// Brand is the platform's name in what the API writes to people
	// (invitations); zero: SecureOps'.
	Brand brand.Brand
	// EmailTemplates render the invitations (nil: the embedded defaults).
	EmailTemplates *mailtmpl.Set
	DB             *db.DB
	Temporal       client.Client
	Metrics        *observability.Metrics
	Policy         targets.Policy
	// VerifyFirstInterval is the first wait between ownership checks
	// (0: the workflow's default of a minute); tests shorten it.
	VerifyFirstInterval time.Duration
	// EventsPollInterval is how often a scan's event stream looks for
	// changes (0: 500 ms).
	EventsPollInterval time.Duration
	// ScanLimits maps a tier to its concurrent scans (config.ScanLimits).
	ScanLimits scans.Limits
	// InstalledScanners are the scanners the deployment's scanner workers
	// have (config.InstalledScanners): scans may ask for these only, and a
	// new tenant's tier offers these only. Nil: every known scanner.
	InstalledScanners map[string]bool
	Log               *slog.Logger
	// Kratos validates sessions and administers identities; nil disables
	// session authentication (API keys still work).
	Kratos *kratos.Client
	// RateLimit is requests per minute per API key or session (0: 600).
	RateLimit int
	// Onboarding configures sign-up, the first key's reveal and the codec.
	Onboarding OnboardingOptions
	// ImportLimits bounds concurrent report uploads.
	ImportLimits ImportLimits
	// Streams bounds live-event streams (scan_live.go).
	Streams StreamLimits
	// Billing configures Stripe's webhook and the billing endpoints (billing.go).
	Billing BillingOptions
	// SSO configures single sign-on (sso.go, sso_hooks.go).
	SSO SSOOptions
	// Portal serves every path outside the API (the web pages), given the
	// API router it calls in-process; nil serves the API alone.
	Portal func(api http.Handler) http.Handler

	limiter *httprate.RateLimiter
	// failures counts failed authentications per client IP: junk
	// credentials cost a database or Kratos round trip each.
	failures *httprate.RateLimiter
	signup   signupLimits
	imports  importSlots
	streams  streamHub
	gates    gateJoins
	// keyTouches: when this process last recorded each API key's use.
	keyTouches sync.Map
}

// Route is one operation and the permission it requires. Every route is
// declared here, with its permission, or it is not served.
type Route struct {
	Method     string
	Pattern    string
	Permission auth.Permission
	handler    handlerFunc
}

// handlerFunc is what every route's handler is: it writes its success and
// returns its failure, which Router turns into problem JSON in one place
// (writeError). A handler that has started its response returns nil.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// plain adapts a handler that cannot fail to the route table.
func plain(h http.HandlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error { h(w, r); return nil }
}

// serve is the one wrapper between the route table and chi: a handler's
// error becomes the answer here, and only here.
func serve(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, err)
		}
	}
}

// Routes is the complete route table.
func (s *Server) Routes() []Route {
	return []Route{
		{"GET", "/healthz", auth.PermPublic, plain(s.healthz)},
		{"GET", "/readyz", auth.PermPublic, s.readyz},
		{"GET", "/metrics", auth.PermPublic, s.metrics},
		{"GET", "/docs", auth.PermPublic, plain(ServeDocs)},
		{"GET", "/docs/*", auth.PermPublic, plain(ServeDocs)},
		{"GET", "/api/v1/openapi.json", auth.PermPublic, plain(ServeOpenAPI)},

		{"GET", "/api/v1/me", auth.PermAuthenticated, s.me},
		{"DELETE", "/api/v1/sessions/current", auth.PermAuthenticated, s.sessionDelete},

		{"POST", "/api/v1/signup", auth.PermPublic, s.signupCreate},
		{"GET", "/api/v1/signup/{signup_id}", auth.PermPublic, s.signupGet},
		{"POST", "/api/v1/api-keys/initial/reveal", auth.PermInitialKeyReveal, s.initialKeyReveal},
		{"GET", "/api/v1/admin/outbox", auth.PermPlatformTenants, s.adminOutboxList},
		{"POST", "/api/v1/codec/encode", auth.PermPlatformTenants, s.codecHandler(false)},
		{"POST", "/api/v1/codec/decode", auth.PermPlatformTenants, s.codecHandler(true)},

		{"POST", "/api/v1/scans", auth.PermScansStart, s.scanCreate},
		{"GET", "/api/v1/scans", auth.PermFindingsView, s.scanList},
		{"POST", "/api/v1/scans/import", auth.PermScansStart, s.scanImport},
		{"GET", "/api/v1/scans/{id}", auth.PermFindingsView, s.scanGet},
		{"GET", "/api/v1/scans/{id}/findings", auth.PermFindingsView, s.scanFindingsList},
		{"GET", "/api/v1/scans/{id}/events", auth.PermFindingsView, s.scanEvents},
		{"POST", "/api/v1/scans/{id}/cancel", auth.PermScansStart, s.scanCancel},

		{"GET", "/api/v1/findings", auth.PermFindingsView, s.findingList},
		{"PATCH", "/api/v1/findings", auth.PermFindingsTriage, s.findingBulkPatch},
		{"GET", "/api/v1/findings/{id}", auth.PermFindingsView, s.findingGet},
		{"PATCH", "/api/v1/findings/{id}", auth.PermFindingsTriage, s.findingPatch},

		// Triage (api/triage.go): analysts' verdicts on proposed decisions;
		// tenant rules read by triagers, written by owners and admins.
		{"POST", "/api/v1/findings/{id}/triage/approve", auth.PermFindingsTriage, s.findingTriageVerdict(true)},
		{"POST", "/api/v1/findings/{id}/triage/reject", auth.PermFindingsTriage, s.findingTriageVerdict(false)},
		{"POST", "/api/v1/findings/{id}/triage/feedback", auth.PermFindingsTriage, s.findingTriageFeedback},
		{"GET", "/api/v1/triage/rules", auth.PermFindingsTriage, s.triageRuleList},
		{"GET", "/api/v1/triage/stats", auth.PermFindingsTriage, s.triageStats},
		{"POST", "/api/v1/triage/rules", auth.PermIntegrationsConfig, s.triageRuleCreate},
		{"PATCH", "/api/v1/triage/rules/{id}", auth.PermIntegrationsConfig, s.triageRuleUpdate},
		{"DELETE", "/api/v1/triage/rules/{id}", auth.PermIntegrationsConfig, s.triageRuleDelete},

		{"GET", "/api/v1/dashboard", auth.PermFindingsView, s.dashboard},
		{"PATCH", "/api/v1/dashboard/sla", auth.PermUsersManage, s.dashboardSLAPatch},
		{"GET", "/api/v1/usage", auth.PermBillingView, s.usageList},

		{"PATCH", "/api/v1/triage/settings", auth.PermUsersManage, s.triageSettingsPatch},
		// Security settings (api/security.go): read by members who manage
		// users, changed by owners.
		{"GET", "/api/v1/security/settings", auth.PermUsersManage, s.securitySettingsGet},
		{"PATCH", "/api/v1/security/settings", auth.PermSecurityManage, s.securitySettingsPatch},
		// The tenant's own logo on its reports (api/branding.go).
		{"GET", "/api/v1/branding/logo", auth.PermReportsView, s.brandingLogoGet},
		{"PUT", "/api/v1/branding/logo", auth.PermIntegrationsConfig, s.brandingLogoPut},
		{"DELETE", "/api/v1/branding/logo", auth.PermIntegrationsConfig, s.brandingLogoDelete},
		// Kratos' settings hook (api/kratos_hooks.go): authenticated by its
		// shared secret, not by a session or key.
		{"POST", "/api/v1/kratos/hooks/settings", auth.PermPublic, s.kratosSettingsHook},

		// Single sign-on (api/sso.go): read by members who manage users,
		// changed by owners; Kratos' SSO hooks (api/sso_hooks.go) carry the
		// shared hook secret.
		{"GET", "/api/v1/sso", auth.PermUsersManage, s.ssoGet},
		{"PATCH", "/api/v1/sso", auth.PermSecurityManage, s.ssoPatch},
		{"POST", "/api/v1/sso/domains", auth.PermSecurityManage, s.ssoDomainAdd},
		{"POST", "/api/v1/sso/domains/{id}/verify", auth.PermSecurityManage, s.ssoDomainVerify},
		{"DELETE", "/api/v1/sso/domains/{id}", auth.PermSecurityManage, s.ssoDomainDelete},
		{"POST", "/api/v1/kratos/hooks/sso/registration", auth.PermPublic, s.ssoRegistrationHook},
		{"POST", "/api/v1/kratos/hooks/sso/join", auth.PermPublic, s.ssoJoinHook},
		{"POST", "/api/v1/kratos/hooks/sso/password-login", auth.PermPublic, s.ssoPasswordLoginHook},

		{"POST", "/api/v1/schedules", auth.PermScansStart, s.scheduleCreate},
		{"GET", "/api/v1/schedules", auth.PermFindingsView, s.scheduleList},
		{"GET", "/api/v1/schedules/{id}", auth.PermFindingsView, s.scheduleGet},
		{"PATCH", "/api/v1/schedules/{id}", auth.PermScansStart, s.scheduleUpdate},
		{"DELETE", "/api/v1/schedules/{id}", auth.PermScansStart, s.scheduleDelete},
		{"POST", "/api/v1/schedules/{id}/pause", auth.PermScansStart, s.scheduleSetPaused(true)},
		{"POST", "/api/v1/schedules/{id}/resume", auth.PermScansStart, s.scheduleSetPaused(false)},
		{"POST", "/api/v1/schedules/{id}/trigger", auth.PermScansStart, s.scheduleTrigger},

		{"POST", "/api/v1/targets", auth.PermScansStart, s.targetCreate},
		{"GET", "/api/v1/targets", auth.PermFindingsView, s.targetList},
		{"GET", "/api/v1/targets/{id}", auth.PermFindingsView, s.targetGet},
		{"DELETE", "/api/v1/targets/{id}", auth.PermScansStart, s.targetDelete},
		{"POST", "/api/v1/targets/{id}/verify", auth.PermScansStart, s.targetVerify},

		{"POST", "/api/v1/webhooks", auth.PermIntegrationsConfig, s.webhookCreate},
		{"GET", "/api/v1/webhooks", auth.PermIntegrationsConfig, s.webhookList},
		{"DELETE", "/api/v1/webhooks/{id}", auth.PermIntegrationsConfig, s.webhookDelete},
		{"GET", "/api/v1/webhooks/{id}/deliveries", auth.PermIntegrationsConfig, s.webhookDeliveries},
		{"POST", "/api/v1/webhooks/{id}/test", auth.PermIntegrationsConfig, s.webhookTest},

		{"POST", "/api/v1/reports", auth.PermReportsGenerate, s.reportCreate},
		{"GET", "/api/v1/reports", auth.PermReportsView, s.reportList},
		{"GET", "/api/v1/reports/{id}", auth.PermReportsView, s.reportGet},
		{"GET", "/api/v1/reports/{id}.pdf", auth.PermReportsView, s.reportContent("pdf")},
		{"GET", "/api/v1/reports/{id}.html", auth.PermReportsView, s.reportContent("html")},
		{"GET", "/api/v1/reports/{id}.md", auth.PermReportsView, s.reportContent("md")},
		{"POST", "/api/v1/reports/{id}/feedback", auth.PermReportsView, s.reportFeedback},

		{"GET", "/api/v1/tenants/{id}", auth.PermFindingsView, s.tenantGet},
		{"POST", "/api/v1/tenants/{id}/children", auth.PermUsersManage, s.tenantChildCreate},
		{"GET", "/api/v1/tenants/{id}/children", auth.PermFindingsView, s.tenantChildrenList},
		{"GET", "/api/v1/tenants/{id}/tree", auth.PermFindingsView, s.tenantTree},

		{"POST", "/api/v1/teams", auth.PermUsersManage, s.teamCreate},
		{"GET", "/api/v1/teams", auth.PermFindingsView, s.teamList},
		{"GET", "/api/v1/teams/{id}", auth.PermFindingsView, s.teamGet},
		{"PATCH", "/api/v1/teams/{id}", auth.PermUsersManage, s.teamUpdate},
		{"DELETE", "/api/v1/teams/{id}", auth.PermUsersManage, s.teamDelete},

		{"POST", "/api/v1/users", auth.PermUsersManage, s.userInvite},
		{"GET", "/api/v1/users", auth.PermUsersManage, s.userList},
		{"PATCH", "/api/v1/users/{id}", auth.PermUsersManage, s.userUpdate},
		{"DELETE", "/api/v1/users/{id}", auth.PermUsersManage, s.userRemove},
		{"POST", "/api/v1/invitations/{token}/accept", auth.PermAuthenticated, s.invitationAccept},

		{"POST", "/api/v1/api-keys", auth.PermAPIKeysManage, s.apiKeyCreate},
		{"GET", "/api/v1/api-keys", auth.PermAPIKeysManage, s.apiKeyList},
		{"DELETE", "/api/v1/api-keys/{id}", auth.PermAPIKeysManage, s.apiKeyRevoke},

		{"GET", "/api/v1/audit", auth.PermUsersManage, s.auditList},

		{"GET", "/api/v1/admin/tenants", auth.PermPlatformTenants, s.adminTenantsList},
		{"POST", "/api/v1/admin/tenants/{id}/suspend", auth.PermPlatformTenants, s.adminTenantSetStatus("suspended", "tenant.suspended")},
		{"POST", "/api/v1/admin/tenants/{id}/resume", auth.PermPlatformTenants, s.adminTenantSetStatus("active", "tenant.resumed")},
		{"POST", "/api/v1/admin/impersonations", auth.PermPlatformImpersonate, s.adminImpersonationCreate},

		// Billing (api/billing.go): Stripe's signed webhook; the tenant's
		// billing for its owners and platform admins.
		{"POST", "/api/v1/stripe/webhook", auth.PermPublic, s.stripeWebhook},
		{"GET", "/api/v1/billing", auth.PermBillingView, s.billingGet},
		{"POST", "/api/v1/billing/portal", auth.PermBillingView, s.billingPortal},
		{"POST", "/api/v1/billing/checkout", auth.PermBillingView, s.billingCheckout},
		{"POST", "/api/v1/billing/plan", auth.PermBillingView, s.billingPlan},
	}
}

// Router builds the chi router from Routes. It fails when a route reached
// the router without a declared permission, so such a server never starts.
func (s *Server) Router() (chi.Router, error) {
	r := chi.NewRouter()
	var reg prometheus.Registerer
	if s.Metrics != nil {
		reg = s.Metrics.Registry
	}
	m := newHTTPMetrics(reg)
	cop, err := crossOrigin(s.Onboarding.CodecCORSOrigins)
	if err != nil {
		return nil, fmt.Errorf("CODEC_CORS_ORIGINS: %w", err)
	}
	r.Use(clientAddr(s.ClientIP), boundedRequestID, middleware.RequestID, requestContext, m.accessLog, recoverer)
	r.Use(s.codecCORS, cop)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, Problem{Status: http.StatusNotFound, Detail: "no route for " + r.URL.Path, Instance: r.URL.Path})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", allowed(r, req.URL.Path))
		writeProblem(w, Problem{Status: http.StatusMethodNotAllowed, Detail: req.Method + " is not allowed on " + req.URL.Path, Instance: req.URL.Path})
	})
	limit := s.RateLimit
	if limit <= 0 {
		limit = 600
	}
	s.limiter = httprate.NewRateLimiter(limit, time.Minute, httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, Problem{Status: http.StatusTooManyRequests, Detail: "rate limit exceeded; retry after the time in Retry-After", Instance: r.URL.Path})
	}))
	s.failures = httprate.NewRateLimiter(60, time.Minute, httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, Problem{Status: http.StatusTooManyRequests, Detail: "too many failed authentications from this address; retry after the time in Retry-After", Instance: r.URL.Path})
	}))
	declared := map[string]bool{}
	for _, rt := range s.Routes() {
		if rt.Pattern == "/metrics" && s.PrivateMetrics {
			continue // served on METRICS_ADDR only
		}
		if rt.Permission == "" {
			return nil, fmt.Errorf("route %s %s declares no permission", rt.Method, rt.Pattern)
		}
		declared[rt.Method+" "+rt.Pattern] = true
		r.With(s.guard(rt.Permission)).MethodFunc(rt.Method, rt.Pattern, serve(rt.handler))
	}
	err = chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !declared[method+" "+route] {
			return fmt.Errorf("route %s %s has no declared permission", method, route)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.Portal != nil {
		// Pages answer what the API does not know; under /api/ a miss stays
		// problem JSON, for clients that never want HTML.
		pages := s.Portal(r)
		r.NotFound(func(w http.ResponseWriter, req *http.Request) {
			if strings.HasPrefix(req.URL.Path, "/api/") {
				writeProblem(w, Problem{Status: http.StatusNotFound, Detail: "no route for " + req.URL.Path, Instance: req.URL.Path})
				return
			}
			pages.ServeHTTP(w, req)
		})
	}
	return r, nil
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	if s.Metrics == nil {
		return errNotFound
	}
	s.Metrics.Handler().ServeHTTP(w, r)
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when this API instance can serve: Postgres, where every
// request's data lives, answers. Temporal is reported but does not decide:
// a Temporal outage affects every replica alike, so taking them all out of
// the load balancer would only turn reads, the portal and sign-in (which
// need no Temporal) into errors as well; requests that start workflows
// answer 503 themselves meanwhile. status is "degraded" then.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "temporal": "ok"}
	status, code := "ok", http.StatusOK
	// Details go to the log: they name hosts and users.
	if _, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], status = "unavailable", "degraded"
		slog.WarnContext(ctx, "readiness: temporal", "error", err)
	}
	if err := s.DB.Ping(ctx); err != nil {
		checks["postgres"], status, code = "unavailable", "unavailable", http.StatusServiceUnavailable
		slog.WarnContext(ctx, "readiness: postgres", "error", err)
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
	return nil
}

func (s *Server) logErr(r *http.Request, what string, err error) {
	if s.Log != nil {
		s.Log.ErrorContext(r.Context(), what, "error", err)
	}
}

// brand is the platform's brand (SecureOps' when none is set).
// email renders email template name for the outbox, branded.
func (s *Server) email(name string, data any) (mailtmpl.Message, error) {
	m, err := s.EmailTemplates.Render(name, s.brand(), data)
	return mailtmpl.Branded(s.brand(), m), err
}

func (s *Server) brand() brand.Brand {
	if s.Brand.Name == "" {
		return brand.Default
	}
	return s.Brand
}
