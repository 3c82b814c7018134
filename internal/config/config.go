// Package config reads the process configuration from the environment, the
// same way for `dev`, `api`, `worker` and `migrate`, so one table in the README
// describes every variable.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/secureops/secureops/internal/brand"
	"github.com/secureops/secureops/internal/clientip"
	"github.com/secureops/secureops/internal/mailtmpl"
	"github.com/secureops/secureops/internal/targets"
)

// Mode decides how strict the platform is about what it may scan.
type Mode string

const (
	ModeProduction Mode = "production"
	ModeDev        Mode = "dev"
	ModeTest       Mode = "test"
)

// AppRole is the database role the API and workers use; it has no BYPASSRLS.
const AppRole = "secureops_app"

// Config is every setting of a SecureOps process.
type Config struct {
	Mode              Mode
	DatabaseURL       string // owner role: migrations
	AppDatabaseURL    string // secureops_app: API and workers
	HTTPAddr          string
	MetricsAddr       string
	TemporalAddress   string
	TemporalNamespace string
	LogLevel          string
	// TrustedProxies (TRUSTED_PROXIES) are the load balancers whose
	// X-Forwarded-For names the client; nobody else's is believed.
	TrustedProxies []netip.Prefix
	// ImageRegistries (IMAGE_REGISTRIES) are the registries image targets
	// may name; empty means the public ones (targets.DefaultImageRegistries).
	ImageRegistries  []string
	NmapPath         string
	NiktoPath        string
	ZAPPath          string // ZAP, Trivy, Nuclei: unset means this worker has none
	TrivyPath        string
	NucleiPath       string
	ScanAllowedCIDRs []netip.Prefix
	// TenantAllowedCIDRs are SCAN_ALLOWED_CIDRS entries written cidr@slug:
	// ranges one tenant (and its sub-tenants) may scan.
	TenantAllowedCIDRs map[string][]netip.Prefix
	ShutdownTimeout    time.Duration
	KratosPublicURL    string
	KratosAdminURL     string
	// KratosBrowserURL is Kratos' public API as browsers reach it (the
	// portal's sign-in forms post there); "" means KratosPublicURL.
	KratosBrowserURL string
	// Brand is the platform's name and look (BRAND_*; white label).
	Brand brand.Brand
	// EmailTemplatesDir (EMAIL_TEMPLATES_DIR) holds an operator's email
	// templates (<name>.txt, <name>.html) over the embedded defaults;
	// EmailTemplates is the loaded set (a broken file stops the process).
	EmailTemplatesDir string
	EmailTemplates    *mailtmpl.Set
	// KratosHookSecret (KRATOS_HOOK_SECRET) authenticates Kratos' settings
	// hook (POST /api/v1/kratos/hooks/settings): the value of its
	// X-Kratos-Hook-Secret header. Outside production it defaults to the
	// development value in deploy/kratos/kratos.yml; "" disables the hook.
	KratosHookSecret string
	// TemporalUIURL is the Temporal Web UI, linked from the portal for
	// platform admins ("" hides the links).
	TemporalUIURL string
	RateLimit     int // API requests per minute per key or session
	// ScanLimits is the number of scans a tenant of each tier may run at
	// once (SCAN_CONCURRENCY); more wait, queued, at the tenant's gate.
	ScanLimits map[string]int
	// KEVURL and EPSSURL (KEV_URL, EPSS_URL) are where the daily intel
	// refresh downloads the CISA KEV catalogue and FIRST's EPSS scores.
	// Production defaults to the public feeds; dev and test leave them
	// empty: KEV comes from the embedded copy, EPSS is off. "off" turns a
	// feed off in any mode.
	KEVURL  string
	EPSSURL string
	// LLM is the OpenAI-compatible model triage may ask (LLM_BASE_URL,
	// LLM_MODEL, LLM_API_KEY); no base URL or no model means none.
	LLM LLM
	Onboarding
	Deployment
	Identity
	SSO
}

// LLM names an OpenAI-compatible chat model (OpenAI, Ollama, llama.cpp,
// vLLM): the API's base URL (…/v1), the model and its key ("" for servers
// that want none).
type LLM struct {
	BaseURL string
	Model   string
	APIKey  string
}

// Configured reports whether a model is named.
func (l LLM) Configured() bool { return l.BaseURL != "" && l.Model != "" }

// loadLLM reads LLM_BASE_URL, LLM_MODEL and LLM_API_KEY.
func loadLLM(c *Config) error {
	c.LLM = LLM{
		BaseURL: strings.TrimSpace(os.Getenv("LLM_BASE_URL")),
		Model:   strings.TrimSpace(os.Getenv("LLM_MODEL")),
		APIKey:  strings.TrimSpace(os.Getenv("LLM_API_KEY")),
	}
	if c.LLM.BaseURL != "" {
		if p, err := url.Parse(c.LLM.BaseURL); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("LLM_BASE_URL=%q: want an http(s) URL", c.LLM.BaseURL)
		}
	}
	return nil
}

// Public intel feeds, production's defaults.
const (
	DefaultKEVURL  = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
	DefaultEPSSURL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
)

// loadIntel reads KEV_URL and EPSS_URL (after the mode is known).
func loadIntel(c *Config) error {
	for _, f := range []struct {
		name, def string
		dst       *string
	}{{"KEV_URL", DefaultKEVURL, &c.KEVURL}, {"EPSS_URL", DefaultEPSSURL, &c.EPSSURL}} {
		v := strings.TrimSpace(os.Getenv(f.name))
		switch {
		case v == "" && c.Mode == ModeProduction:
			v = f.def
		case v == "off":
			v = ""
		}
		if v != "" {
			if p, err := url.Parse(v); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				return fmt.Errorf("%s=%q: want an http(s) URL, or off", f.name, v)
			}
		}
		*f.dst = v
	}
	return nil
}

// DefaultScanLimits are the tiers' concurrent scans.
var DefaultScanLimits = map[string]int{"basic": 2, "pro": 10, "enterprise": 50}

// ParseScanLimits reads "basic=2,pro=10,enterprise=50"; tiers left out keep
// their default.
func ParseScanLimits(v string) (map[string]int, error) {
	out := map[string]int{}
	for k, n := range DefaultScanLimits {
		out[k] = n
	}
	for _, kv := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		k, n, ok := strings.Cut(kv, "=")
		lim, err := strconv.Atoi(n)
		if _, known := DefaultScanLimits[k]; !ok || !known || err != nil || lim < 1 {
			return nil, fmt.Errorf("SCAN_CONCURRENCY: %q is not tier=limit with a known tier and a positive limit", kv)
		}
		out[k] = lim
	}
	return out, nil
}

// FromEnv reads the environment. defaultMode is what the subcommand implies
// (dev for `secureops dev`, production for `api` and `worker`).
func FromEnv(defaultMode Mode) (Config, error) {
	c := Config{
		Mode:              Mode(get("SECUREOPS_ENV", string(defaultMode))),
		DatabaseURL:       os.Getenv("DATABASE_URL"),
		AppDatabaseURL:    os.Getenv("APP_DATABASE_URL"),
		HTTPAddr:          get("HTTP_ADDR", ":8080"),
		MetricsAddr:       get("METRICS_ADDR", ":9090"),
		TemporalAddress:   get("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace: get("TEMPORAL_NAMESPACE", "default"),
		LogLevel:          get("LOG_LEVEL", "info"),
		NmapPath:          get("NMAP_PATH", "nmap"),
		NiktoPath:         get("NIKTO_PATH", "nikto"),
		ZAPPath:           os.Getenv("ZAP_PATH"),
		TrivyPath:         os.Getenv("TRIVY_PATH"),
		NucleiPath:        os.Getenv("NUCLEI_PATH"),
		// Above the workers' 10 s stop timeout plus the scanner kill delay and
		// the HTTP drain, so fx still runs every stop hook.
		ShutdownTimeout:  30 * time.Second,
		KratosPublicURL:  os.Getenv("KRATOS_PUBLIC_URL"),
		KratosAdminURL:   os.Getenv("KRATOS_ADMIN_URL"),
		KratosBrowserURL: os.Getenv("KRATOS_BROWSER_URL"),
		TemporalUIURL:    os.Getenv("TEMPORAL_UI_URL"),
		RateLimit:        600,
	}
	if v := os.Getenv("API_RATE_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return c, fmt.Errorf("API_RATE_LIMIT=%q: want a positive integer", v)
		}
		c.RateLimit = n
	}
	limits, err := ParseScanLimits(os.Getenv("SCAN_CONCURRENCY"))
	if err != nil {
		return c, err
	}
	c.ScanLimits = limits
	if err := loadOnboarding(&c); err != nil {
		return c, err
	}
	switch c.Mode {
	case ModeProduction, ModeDev, ModeTest:
	default:
		return c, fmt.Errorf("SECUREOPS_ENV=%q: want production, dev or test", c.Mode)
	}
	b, err := brand.FromEnv()
	if err != nil {
		return c, err
	}
	c.Brand = b
	c.EmailTemplatesDir = strings.TrimSpace(os.Getenv("EMAIL_TEMPLATES_DIR"))
	if c.EmailTemplates, err = mailtmpl.Load(c.EmailTemplatesDir); err != nil {
		return c, err
	}
	c.KratosHookSecret = os.Getenv("KRATOS_HOOK_SECRET")
	if c.KratosHookSecret == "" && c.Mode != ModeProduction {
		c.KratosHookSecret = DevKratosHookSecret
	}
	for _, s := range strings.FieldsFunc(os.Getenv("SCAN_ALLOWED_CIDRS"), func(r rune) bool { return r == ',' || r == ' ' }) {
		cidr, slug, owned := strings.Cut(s, "@")
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return c, fmt.Errorf("SCAN_ALLOWED_CIDRS: %w", err)
		}
		switch {
		case owned && slug != "":
			if c.TenantAllowedCIDRs == nil {
				c.TenantAllowedCIDRs = map[string][]netip.Prefix{}
			}
			c.TenantAllowedCIDRs[slug] = append(c.TenantAllowedCIDRs[slug], p.Masked())
		case c.Mode == ModeProduction:
			// A range open to every tenant lets any of them point a name
			// into another's network.
			return c, fmt.Errorf("SCAN_ALLOWED_CIDRS: %q names no tenant; write it as %s@<tenant-slug>", s, cidr)
		default:
			c.ScanAllowedCIDRs = append(c.ScanAllowedCIDRs, p.Masked())
		}
	}
	if err := loadIntel(&c); err != nil {
		return c, err
	}
	if err := loadLLM(&c); err != nil {
		return c, err
	}
	loadIdentity(&c)
	if err := loadDeployment(&c); err != nil {
		return c, err
	}
	if err := loadSSO(&c); err != nil {
		return c, err
	}
	if c.TrustedProxies, err = clientip.Parse(os.Getenv("TRUSTED_PROXIES")); err != nil {
		return c, err
	}
	for _, r := range strings.FieldsFunc(os.Getenv("IMAGE_REGISTRIES"), func(r rune) bool { return r == ',' || r == ' ' }) {
		c.ImageRegistries = append(c.ImageRegistries, strings.ToLower(r))
	}
	if c.AppDatabaseURL == "" && c.DatabaseURL != "" {
		app, err := AppDSN(c.DatabaseURL)
		if err != nil {
			return c, err
		}
		c.AppDatabaseURL = app
	}
	return c, nil
}

// ScanPolicy is what this mode may scan: loopback only in dev and test; in
// production everything public plus SCAN_ALLOWED_CIDRS.
func (c Config) ScanPolicy() targets.Policy {
	return targets.Policy{LoopbackOnly: c.Mode != ModeProduction, Allowed: c.ScanAllowedCIDRs, TenantAllowed: c.TenantAllowedCIDRs, ImageRegistries: c.ImageRegistries}
}

// WebhookPolicy is where webhook deliveries may go: public addresses in
// production (loopback in dev and test), never SCAN_ALLOWED_CIDRS — those
// ranges are opened for scanning a tenant's own lab, not for callbacks any
// tenant could aim at them.
func (c Config) WebhookPolicy() targets.Policy {
	return targets.Policy{LoopbackOnly: c.Mode != ModeProduction}
}

// RequireDatabase reports a clear error when a production-shape process has no database.
func (c Config) RequireDatabase() error {
	if c.DatabaseURL == "" && c.AppDatabaseURL == "" {
		return errors.New("DATABASE_URL (or APP_DATABASE_URL) must be set")
	}
	return nil
}

// AppDSN derives the application role's DSN from the owner's: same server and
// database, user secureops_app, no password: it travels apart from the URL
// (Config.AppDatabasePassword, from APP_DATABASE_PASSWORD or its _FILE; local
// clusters use trust authentication and need none).
func AppDSN(ownerDSN string) (string, error) {
	if err := checkDSN("DATABASE_URL", ownerDSN); err != nil {
		return "", err
	}
	u, err := url.Parse(ownerDSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("DATABASE_URL must be a postgres:// URL to derive APP_DATABASE_URL from it; or set APP_DATABASE_URL")
	}
	u.User = url.User(AppRole)
	return u.String(), nil
}

func get(k, def string) string {
	if v, ok := os.LookupEnv(k); ok && v != "" {
		return v
	}
	return def
}
