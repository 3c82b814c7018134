// Package e2e runs the platform's thin slice end to end: the chi API over HTTP,
// the in-process Temporal server, real PostgreSQL and real nmap scanning a
// server on loopback.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/api"
	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/devserver"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/observability"
	"github.com/secureops/secureops/internal/portal"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/testutil/pgtest"
	"github.com/secureops/secureops/workers"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type platform struct {
	api      *httptest.Server
	temporal client.Client
	db       *db.DB
	tenant   uuid.UUID
	key      string // an analyst's API key of tenant
	server   *api.Server
	superDSN string // the cluster superuser on the test database
}

type options struct {
	kratos    *kratos.Client
	noWorkers bool
	rateLimit int
	resolver  *net.Resolver // DNS for scans and ownership checks (nil: system)
	// configure adjusts the workers' and API's configuration (onboarding).
	configure func(*config.Config)
	// server adjusts the API server before its router is built.
	server func(*api.Server)
	// listener, when set, is where the API (and portal) serve: Kratos must
	// know the portal's address before it starts.
	listener net.Listener
	// portal serves the web pages beside the API.
	portal *portal.Deps
}

func start(t *testing.T) *platform { return startWith(t, options{}) }

func startWith(t testing.TB, o options) *platform {
	t.Helper()
	if _, err := exec.LookPath("nmap"); err != nil {
		if os.Getenv("SECUREOPS_REQUIRE_TOOLS") == "1" {
			t.Fatal("nmap not installed")
		}
		t.Skip("nmap not installed")
	}
	ctx := context.Background()
	d := pgtest.New(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = observability.NewLogger(os.Stderr, "warn")
	}
	ts, err := devserver.Start(ctx, devserver.Options{
		FrontendPort:     0,
		UIPort:           -1,
		SearchAttributes: temporalx.SearchAttributeTypes,
		Logger:           log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ts.Stop() })
	metrics, err := observability.NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{Mode: config.ModeTest, NmapPath: "nmap", TemporalNamespace: ts.Namespace(), ScanLimits: config.DefaultScanLimits,
		KratosHookSecret: config.DevKratosHookSecret}
	if o.configure != nil {
		o.configure(&cfg)
	}
	if cfg.SealKey == nil {
		cfg.SealKey = newKey(t)
	}
	var codec *temporalx.Codec
	if len(cfg.CodecKeys) > 0 {
		if codec, err = temporalx.NewCodec(cfg.CodecKeys); err != nil {
			t.Fatal(err)
		}
	}
	tc, err := temporalx.Dial(ctx, temporalx.ClientOptions{HostPort: ts.FrontendHostPort(), Namespace: ts.Namespace(), Logger: log, Metrics: metrics.Temporal, Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	h := d.OpenApp(t)
	ws, err := workers.New(workers.Deps{Client: tc, DB: h, Config: cfg, Log: log, Resolver: o.resolver}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.rateLimit == 0 {
		o.rateLimit = 100000
	}
	if !o.noWorkers {
		if err := ws.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ws.Stop)
	}
	srv := &api.Server{DB: h, Temporal: tc, Metrics: metrics, Policy: cfg.ScanPolicy(), Log: log, Kratos: o.kratos, RateLimit: o.rateLimit,
		VerifyFirstInterval: time.Second, ScanLimits: cfg.ScanLimits, KratosHookSecret: cfg.KratosHookSecret, Brand: cfg.Brand,
		Onboarding: api.OnboardingOptions{SignupRateLimit: cfg.SignupRateLimit, SealKey: cfg.SealKey, Codec: codec, CodecCORSOrigins: cfg.CodecCORSOrigins}}
	srv.SSO = api.NewSSOOptions(cfg, h, o.kratos, log)
	if o.portal != nil {
		pd := *o.portal
		if pd.Brand.Name == "" {
			pd.Brand = cfg.Brand
		}
		if pd.Namespace == "" {
			pd.Namespace = ts.Namespace()
		}
		srv.Portal = portal.New(pd).Handler
	}
	if o.server != nil {
		o.server(srv)
	}
	router, err := srv.Router()
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(router)
	if o.listener != nil {
		hs.Listener.Close()
		hs.Listener = o.listener
	}
	hs.Start()
	t.Cleanup(hs.Close)
	ten, err := bootstrap.CreateTenant(ctx, h, nil, bootstrap.TenantInput{Name: "Acme Corp", Tier: "pro"})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := bootstrap.CreateAPIKey(ctx, h, ten.Slug, auth.RoleClientAnalyst, nil, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	return &platform{api: hs, temporal: tc, db: h, tenant: ten.ID, key: key, server: srv, superDSN: d.SuperDSN}
}

func (p *platform) do(t *testing.T, method, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, p.api.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if p.key != "" {
		req.Header.Set("Authorization", "Bearer "+p.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 && (strings.Contains(resp.Header.Get("Content-Type"), "json")) {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: invalid JSON %q", method, path, raw)
		}
	}
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%s %s: status %d with content type %q, want problem JSON", method, path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, out
}

func TestScanThinSlice(t *testing.T) {
	p := start(t)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Server", "nginx/1.22.1") // a banner nmap's -sV recognises at once
		_, _ = w.Write([]byte("<html><title>target</title></html>"))
	}))
	defer target.Close()
	port := target.Listener.Addr().(*net.TCPAddr).Port

	code, body := p.do(t, "POST", "/api/v1/scans", "application/json",
		fmt.Sprintf(`{"target":"127.0.0.1:%d","scanners":["nmap"]}`, port))
	if code != http.StatusAccepted {
		t.Fatalf("create scan: %d %v", code, body)
	}
	id, _ := body["id"].(string)
	if body["status"] != "queued" || body["workflow_id"] != "scan/"+id {
		t.Fatalf("create scan body %v", body)
	}

	var scan map[string]any
	deadline := time.Now().Add(3 * time.Minute)
	for {
		code, scan = p.do(t, "GET", "/api/v1/scans/"+id, "", "")
		if code != http.StatusOK {
			t.Fatalf("get scan: %d %v", code, scan)
		}
		if s := scan["status"]; s == "completed" || s == "failed" || s == "cancelled" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scan did not finish: %v", scan)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if scan["status"] != "completed" || scan["progress"] != float64(100) || scan["started_at"] == nil || scan["finished_at"] == nil {
		t.Fatalf("scan %v", scan)
	}
	counts := scan["counts"].(map[string]any)
	if counts["info"].(float64) < 1 || scan["findings_total"].(float64) < 1 {
		t.Fatalf("counts %v", scan)
	}

	code, page := p.do(t, "GET", "/api/v1/scans/"+id+"/findings", "", "")
	if code != http.StatusOK {
		t.Fatalf("findings: %d %v", code, page)
	}
	items := page["items"].([]any)
	found := false
	for _, it := range items {
		f := it.(map[string]any)
		if f["port"] == float64(port) && f["host"] == "127.0.0.1" && f["scanner"] == "nmap" {
			found = true
			if !strings.Contains(strings.ToLower(fmt.Sprint(f["component"], f["description"])), "nginx") {
				t.Errorf("finding for the open port lacks the product: %v", f)
			}
			if f["component_version"] != "1.22.1" {
				t.Errorf("component_version %v, want 1.22.1", f["component_version"])
			}
			if f["status"] != "new" || f["fingerprint"] == "" {
				t.Errorf("finding %v", f)
			}
		}
	}
	if !found {
		t.Fatalf("no finding for open port %d in %v", port, items)
	}

	// Operators find the scan in the Web UI by tenant and kind.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := fmt.Sprintf("TenantId = '%s' AND Kind = 'scan' AND ScanTarget = '127.0.0.1:%d'", p.tenant, port)
	for {
		resp, err := p.temporal.ListWorkflow(ctx, listReq(q))
		if err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == "scan/"+id {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("workflow not visible with %q: %v %v", q, resp, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	recordHistory(t, p.temporal, "scan/"+id, "../../workflows/scanflow/testdata/scan_completed_gate_proof_notify.json")

	// The Temporal SDK's metrics reach /metrics alongside ours. The SDK hands
	// them over on its reporting tick (a second), so the scan that just
	// completed may show up a moment later.
	missing := func() []string {
		resp, err := http.Get(p.api.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out []string
		for _, want := range []string{"secureops_http_requests_total", "temporal_request", "temporal_workflow_completed"} {
			if !strings.Contains(string(metrics), want) {
				out = append(out, want)
			}
		}
		return out
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		m := missing()
		if len(m) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %v", m)
		}
	}
}

func TestScanBadInput(t *testing.T) {
	p := start(t)
	cases := []struct {
		name, ct, body string
		want           int
		field          string
	}{
		{"empty target", "application/json", `{"target":""}`, 400, "target"},
		{"unknown scanner", "application/json", `{"target":"127.0.0.1","scanners":["nessus"]}`, 400, "scanners[0]"},
		{"malformed JSON", "application/json", `{"target":`, 400, ""},
		{"not an object", "application/json", `[1,2]`, 400, ""},
		{"unknown field", "application/json", `{"target":"127.0.0.1","x":1}`, 400, ""},
		{"trailing data", "application/json", `{"target":"127.0.0.1"} {}`, 400, ""},
		{"wrong media type", "text/plain", `{"target":"127.0.0.1"}`, 415, ""},
		{"non-loopback in test mode", "application/json", `{"target":"10.1.2.3"}`, 422, ""},
		{"bad port", "application/json", `{"target":"127.0.0.1:70000"}`, 400, "target"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := p.do(t, "POST", "/api/v1/scans", c.ct, c.body)
			if code != c.want {
				t.Fatalf("status %d, want %d: %v", code, c.want, body)
			}
			if body["status"] != float64(c.want) || body["title"] == "" || body["detail"] == "" {
				t.Fatalf("problem body %v", body)
			}
			if c.field != "" {
				errs, _ := body["errors"].([]any)
				if len(errs) == 0 || errs[0].(map[string]any)["field"] != c.field {
					t.Fatalf("errors %v, want field %s", body["errors"], c.field)
				}
			}
		})
	}
	if code, _ := p.do(t, "GET", "/api/v1/scans/not-a-uuid", "", ""); code != 400 {
		t.Errorf("malformed id: %d", code)
	}
	if code, _ := p.do(t, "GET", "/api/v1/scans/"+strconv.Itoa(0)+"0000000-0000-0000-0000-000000000000", "", ""); code != 404 {
		t.Errorf("missing scan: %d", code)
	}
	if code, _ := p.do(t, "GET", "/api/v1/scans/00000000-0000-0000-0000-000000000000/findings", "", ""); code != 404 {
		t.Errorf("findings of missing scan: %d", code)
	}
	if code, body := p.do(t, "GET", "/readyz", "", ""); code != 200 || body["status"] != "ok" {
		t.Errorf("readyz %d %v", code, body)
	}
	// Without credentials, or with a forged key: 401 problem.
	key := p.key
	p.key = ""
	if code, _ := p.do(t, "POST", "/api/v1/scans", "application/json", `{"target":"127.0.0.1"}`); code != 401 {
		t.Errorf("unauthenticated create: %d", code)
	}
	p.key = key[:len(key)-4] + "0000"
	if code, _ := p.do(t, "GET", "/api/v1/me", "", ""); code != 401 {
		t.Errorf("forged key: %d", code)
	}
	p.key = key
}
