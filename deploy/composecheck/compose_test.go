// Package composecheck checks docker-compose.yml, .env.example, the
// Dockerfile and the Caddyfile offline: the compose file is loaded, schema
// checked and interpolated by compose-go (the library `docker compose`
// itself uses), and the safe defaults of issue 17 are asserted on the
// result. Its own module keeps compose-go's dependencies out of the
// product's go.mod; `make test` (scripts/test.sh) runs it.
package composecheck

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
)

// TestMain quiets compose-go's warnings about the variables a test leaves
// out on purpose.
func TestMain(m *testing.M) {
	logrus.SetLevel(logrus.ErrorLevel)
	os.Exit(m.Run())
}

// root is the repository, two levels up.
var root = func() string { p, _ := filepath.Abs("../.."); return p }()

// secrets are the settings docker-compose.yml must require: no fallback
// value, so a stack without them does not start.
var secrets = []string{
	"POSTGRES_PASSWORD", "SECUREOPS_DB_PASSWORD", "APP_DATABASE_PASSWORD", "KRATOS_DB_PASSWORD",
	"TEMPORAL_DB_PASSWORD", "TEMPORAL_CODEC_KEY", "SECUREOPS_SEAL_KEY",
	"KRATOS_SECRETS_COOKIE", "KRATOS_SECRETS_CIPHER", "KRATOS_SMTP_URI", "KRATOS_HOOK_SECRET",
	"SECUREOPS_SITE", "SECUREOPS_PUBLIC_URL",
}

// production is a complete production environment (values of the right
// shape, none of them published), with a password using / + =.
func production() map[string]string {
	return map[string]string{
		"POSTGRES_PASSWORD":     "pg-Zr7/Qm+w=",
		"SECUREOPS_DB_PASSWORD": "own/er+pw==",
		"APP_DATABASE_PASSWORD": "a/b+c=d",
		"KRATOS_DB_PASSWORD":    "3f9a1c0e5b7d2468ace13579bdf02468",
		"TEMPORAL_DB_PASSWORD":  "9e8d7c6b5a49382716",
		"TEMPORAL_CODEC_KEY":    "cmVhbC1zZWNyZXQta2V5LW9mLTMyLWJ5dGVzLWxvbmc=",
		"SECUREOPS_SEAL_KEY":    "YW5vdGhlci1yZWFsLWtleS1vZi0zMi1ieXRlcyEhISE=",
		"KRATOS_SECRETS_COOKIE": "0123456789abcdef0123456789abcdef",
		"KRATOS_SECRETS_CIPHER": "fedcba9876543210fedcba9876543210",
		"KRATOS_SMTP_URI":       "smtps://mailer:pw@smtp.example.com:465/",
		"KRATOS_HOOK_SECRET":    "5be0c6f1d2a34e7f8091a2b3c4d5e6f7",
		"SECUREOPS_SITE":        "secureops.example.com",
		"SECUREOPS_PUBLIC_URL":  "https://secureops.example.com",
	}
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// load reads docker-compose.yml as `docker compose` would with env as the
// whole environment (no .env, no OS variables) and profiles active.
func load(t *testing.T, env map[string]string, profiles ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(envList(env)),
		cli.WithProfiles(profiles),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return opts.LoadProject(ctx)
}

func mustLoad(t *testing.T, env map[string]string, profiles ...string) *types.Project {
	t.Helper()
	p, err := load(t, env, profiles...)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// Issue 17 item 1: every secret is required; a stack missing one fails
// before anything starts, naming it.
func TestMissingSecretFails(t *testing.T) {
	if _, err := load(t, nil); err == nil {
		t.Fatal("docker-compose.yml loads with no secrets at all")
	}
	for _, name := range secrets {
		env := production()
		delete(env, name)
		if _, err := load(t, env); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v, want an error naming it", name, err)
		}
		env[name] = ""
		if _, err := load(t, env); err == nil {
			t.Errorf("with %s empty the stack loads", name)
		}
	}
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range secrets {
		if m := regexp.MustCompile(`\$\{` + name + `:?-`).Find(raw); m != nil {
			t.Errorf("docker-compose.yml gives %s a fallback (%s)", name, m)
		}
	}
	for _, published := range []string{"dev-only", "ZGV2LW9ubHkt", "dev-cookie-secret", "dev-cipher-secret", "sk_test_"} {
		if strings.Contains(string(raw), published) {
			t.Errorf("docker-compose.yml holds the published development value %q", published)
		}
	}
}

// secureopsServices are the services running the secureops binary.
var secureopsServices = []string{"migrate", "api", "worker-scans", "worker-onboarding", "worker-scanners"}

// drain is the process's shutdown timeout, read from internal/config so
// this check follows the code.
func drain(t *testing.T) time.Duration {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "internal/config/config.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`ShutdownTimeout:\s*(\d+)\s*\*\s*time\.Second`).FindSubmatch(src)
	if m == nil {
		t.Fatal("internal/config/config.go no longer sets ShutdownTimeout as N * time.Second: update this test")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return time.Duration(n) * time.Second
}

func command(s types.ServiceConfig) string {
	return strings.Join(append(append([]string{}, s.Entrypoint...), s.Command...), " ")
}

// Issue 17 items 1, 2, 4, 7, 8, 9: the production stack as it loads.
func TestProductionDefaults(t *testing.T) {
	p := mustLoad(t, production())
	for _, name := range []string{"stripe-mock", "mailpit", "kratos-demo"} {
		if _, err := p.GetService(name); err == nil {
			t.Errorf("%s runs without the demo profile", name)
		}
	}
	grace := drain(t)
	for _, s := range p.Services {
		if strings.Contains(command(s), "--dev") {
			t.Errorf("%s runs with --dev outside the demo profile: %s", s.Name, command(s))
		}
		for k, v := range s.Environment {
			if v != nil && (strings.Contains(*v, "stripe-mock") || strings.Contains(*v, "--dev")) {
				t.Errorf("%s: %s=%s outside the demo profile", s.Name, k, *v)
			}
		}
		// Long-running services have resource limits.
		if s.Restart != "no" && s.Restart != "on-failure" {
			if s.Deploy == nil || s.Deploy.Resources.Limits == nil || s.Deploy.Resources.Limits.MemoryBytes == 0 || s.Deploy.Resources.Limits.NanoCPUs == 0 {
				t.Errorf("%s has no CPU and memory limits", s.Name)
			}
		}
		// Only the proxy is published beyond this machine.
		for _, port := range s.Ports {
			if s.Name != "proxy" && port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q, not 127.0.0.1", s.Name, port.Published, port.HostIP)
			}
		}
	}
	for _, name := range secureopsServices {
		s, err := p.GetService(name)
		if err != nil {
			t.Fatal(err)
		}
		if s.Init == nil || !*s.Init {
			t.Errorf("%s runs without init: true (its binary would be PID 1 and reap no scanner)", name)
		}
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= grace {
			t.Errorf("%s: stop_grace_period %v, want above the %s drain", name, s.StopGracePeriod, grace)
		}
		env := s.Environment
		if name == "migrate" {
			if got := deref(env["DATABASE_URL"]); strings.Contains(got, ":"+production()["SECUREOPS_DB_PASSWORD"]) || strings.Contains(got, "secureops:") {
				t.Errorf("migrate: DATABASE_URL %q holds a password; it travels in DATABASE_PASSWORD", got)
			}
			if deref(env["DATABASE_PASSWORD"]) != production()["SECUREOPS_DB_PASSWORD"] {
				t.Errorf("migrate: DATABASE_PASSWORD %q", deref(env["DATABASE_PASSWORD"]))
			}
			continue
		}
		if got := deref(env["APP_DATABASE_URL"]); strings.Contains(got, "secureops_app:") {
			t.Errorf("%s: APP_DATABASE_URL %q holds a password", name, got)
		}
		if deref(env["APP_DATABASE_PASSWORD"]) != production()["APP_DATABASE_PASSWORD"] {
			t.Errorf("%s: APP_DATABASE_PASSWORD did not arrive intact: %q", name, deref(env["APP_DATABASE_PASSWORD"]))
		}
		for _, k := range []string{"STRIPE_API_BASE", "STRIPE_SECRET_KEY", "KRATOS_SERVE_FLAGS"} {
			if v := deref(env[k]); v != "" {
				t.Errorf("%s: %s=%q by default", name, k, v)
			}
		}
		for _, k := range []string{"SCANNER_MAX_CONCURRENT", "DB_POOL_MAX_CONNS", "TRUSTED_PROXIES", "TRIVY_PATH", "NUCLEI_PATH"} {
			if deref(env[k]) == "" {
				t.Errorf("%s: %s not set", name, k)
			}
		}
		if deref(env["SECUREOPS_ENV"]) != "production" {
			t.Errorf("%s: SECUREOPS_ENV %q by default", name, deref(env["SECUREOPS_ENV"]))
		}
	}

	// Real Stripe by two variables.
	env := production()
	env["STRIPE_SECRET_KEY"], env["STRIPE_API_BASE"] = "sk_live_abc", ""
	api, _ := mustLoad(t, env).GetService("api")
	if deref(api.Environment["STRIPE_SECRET_KEY"]) != "sk_live_abc" || deref(api.Environment["STRIPE_API_BASE"]) != "" {
		t.Errorf("real Stripe: key %q, base %q", deref(api.Environment["STRIPE_SECRET_KEY"]), deref(api.Environment["STRIPE_API_BASE"]))
	}

	// The scanner workers run the scanner image; the others the minimal one.
	for _, name := range secureopsServices {
		s, _ := p.GetService(name)
		want := "runtime"
		if name == "worker-scanners" {
			want = "scanner"
		}
		if s.Build == nil || s.Build.Target != want {
			t.Errorf("%s builds %v, want target %s", name, s.Build, want)
		}
	}

	// Kratos: secrets, courier and URLs from the environment, no --dev.
	k, err := p.GetService("kratos")
	if err != nil {
		t.Fatal(err)
	}
	pub := production()["SECUREOPS_PUBLIC_URL"]
	for key, want := range map[string]string{
		"SECRETS_COOKIE":                    production()["KRATOS_SECRETS_COOKIE"],
		"SECRETS_CIPHER":                    production()["KRATOS_SECRETS_CIPHER"],
		"COURIER_SMTP_CONNECTION_URI":       production()["KRATOS_SMTP_URI"],
		"SERVE_PUBLIC_BASE_URL":             pub + "/.ory/kratos/public/",
		"SELFSERVICE_FLOWS_LOGIN_UI_URL":    pub + "/auth/login",
		"SELFSERVICE_FLOWS_RECOVERY_UI_URL": pub + "/auth/recovery",
		"SELFSERVICE_ALLOWED_RETURN_URLS":   pub,
	} {
		if got := deref(k.Environment[key]); got != want {
			t.Errorf("kratos: %s=%q, want %q", key, got, want)
		}
	}

	// The API scales: no published port, replicas, the proxy in front, and
	// TRUSTED_PROXIES names the proxy's fixed address.
	api, _ = p.GetService("api")
	if len(api.Ports) > 0 || api.ContainerName != "" {
		t.Errorf("api publishes %v / is named %q: it cannot be scaled", api.Ports, api.ContainerName)
	}
	if api.Deploy == nil || api.Deploy.Replicas == nil || *api.Deploy.Replicas < 2 {
		t.Errorf("api replicas: %+v", api.Deploy)
	}
	proxy, err := p.GetService("proxy")
	if err != nil {
		t.Fatal(err)
	}
	addr := ""
	for _, n := range proxy.Networks {
		if n != nil && n.Ipv4Address != "" {
			addr = n.Ipv4Address
		}
	}
	if addr == "" || deref(api.Environment["TRUSTED_PROXIES"]) != addr+"/32" {
		t.Errorf("the proxy is at %q, the API trusts %q", addr, deref(api.Environment["TRUSTED_PROXIES"]))
	}
	if !slices.ContainsFunc(proxy.Volumes, func(v types.ServiceVolumeConfig) bool { return strings.HasSuffix(v.Source, "deploy/caddy/Caddyfile") }) {
		t.Error("the proxy does not mount deploy/caddy/Caddyfile")
	}

	// Temporal's history shards chosen for a capacity plan.
	tmp, _ := p.GetService("temporal")
	if n, err := strconv.Atoi(deref(tmp.Environment["NUM_HISTORY_SHARDS"])); err != nil || n < 128 || n > 512 {
		t.Errorf("NUM_HISTORY_SHARDS=%s, want 128 to 512", deref(tmp.Environment["NUM_HISTORY_SHARDS"]))
	}
}

// Issue 17 items 1 and 2: --dev and stripe-mock exist only in the demo
// profile; .env.example's demo block starts the demo as documented.
func TestDemoProfile(t *testing.T) {
	p := mustLoad(t, production(), "demo")
	for _, s := range p.Services {
		demo := slices.Contains(s.Profiles, "demo")
		if strings.Contains(command(s), "--dev") && !demo {
			t.Errorf("%s has --dev outside the demo profile", s.Name)
		}
		if strings.Contains(s.Image, "stripe-mock") && !demo {
			t.Errorf("%s runs stripe-mock outside the demo profile", s.Name)
		}
	}
	for _, name := range []string{"stripe-mock", "kratos-demo", "mailpit"} {
		s, err := p.GetService(name)
		if err != nil {
			t.Fatalf("demo profile without %s: %v", name, err)
		}
		if name == "kratos-demo" && !strings.Contains(command(s), "--dev") {
			t.Errorf("kratos-demo: %s", command(s))
		}
	}

	// The example file as shipped: the demo, dev mode, stripe-mock.
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnvFiles(filepath.Join(root, ".env.example")),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(),
		cli.WithInterpolation(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf(".env.example does not start the stack: %v", err)
	}
	api, err := ex.GetService("api")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.GetService("stripe-mock"); err != nil {
		t.Error(".env.example does not start stripe-mock")
	}
	for k, want := range map[string]string{
		"SECUREOPS_ENV": "dev", "STRIPE_API_BASE": "http://stripe-mock:12111", "KRATOS_PUBLIC_URL": "http://kratos-demo:4433", "KRATOS_SERVE_FLAGS": "--dev",
	} {
		if got := deref(api.Environment[k]); got != want {
			t.Errorf(".env.example: api %s=%q, want %q", k, got, want)
		}
	}
}

// Issue 17 item 3: the minimal image is the default target and has no
// scanner; the scanner image installs the four scanners at pinned versions,
// Trivy and Nuclei from their Go modules.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(raw)
	stages := regexp.MustCompile(`(?m)^FROM\s+(\S+)(?:\s+AS\s+(\S+))?`).FindAllStringSubmatch(src, -1)
	if len(stages) == 0 {
		t.Fatal("no FROM")
	}
	last := stages[len(stages)-1]
	if last[2] != "runtime" || !strings.Contains(last[1], "distroless/static") {
		t.Errorf("the default (last) stage is %s AS %s, want the distroless runtime", last[1], last[2])
	}
	runtime := src[strings.LastIndex(src, "\nFROM "):]
	for _, tool := range []string{"nmap", "nikto", "trivy", "nuclei", "apt-get"} {
		if strings.Contains(strings.ToLower(runtime), tool) {
			t.Errorf("the runtime image mentions %s", tool)
		}
	}
	pins := map[string]*regexp.Regexp{
		"NMAP_VERSION":   regexp.MustCompile(`(?m)^ARG NMAP_VERSION=\d[^\s]*$`),
		"NIKTO_VERSION":  regexp.MustCompile(`(?m)^ARG NIKTO_VERSION=\d[^\s]*$`),
		"TRIVY_VERSION":  regexp.MustCompile(`(?m)^ARG TRIVY_VERSION=v\d+\.\d+\.\d+$`),
		"NUCLEI_VERSION": regexp.MustCompile(`(?m)^ARG NUCLEI_VERSION=v3\.\d+\.\d+$`),
	}
	for name, re := range pins {
		if !re.MatchString(src) {
			t.Errorf("%s is not pinned to a version", name)
		}
	}
	for _, want := range []string{
		`"nmap=${NMAP_VERSION}"`, `"nikto=${NIKTO_VERSION}"`,
		"go install", "github.com/aquasecurity/trivy/cmd/trivy@${TRIVY_VERSION}",
		"github.com/projectdiscovery/nuclei/v3/cmd/nuclei@${NUCLEI_VERSION}",
		"TRIVY_PATH=/usr/local/bin/trivy", "NUCLEI_PATH=/usr/local/bin/nuclei",
		"AS scanner",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// Issue 17 item 9: Caddy balances over every API replica, passes the
// client's address on and never buffers or cuts an event stream.
func TestCaddyfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "deploy/caddy/Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(raw)
	for _, want := range []string{"dynamic a", "name api", "port 8080", "flush_interval -1", "handle_path /.ory/kratos/public/*", "{$SECUREOPS_SITE}"} {
		if !strings.Contains(src, want) {
			t.Errorf("Caddyfile lacks %q", want)
		}
	}
	for _, bad := range []string{"encode ", "stream_timeout", "header_up -X-Forwarded-For"} {
		if strings.Contains(src, bad) {
			t.Errorf("Caddyfile has %q (buffers, cuts or hides event streams or the client address)", bad)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
