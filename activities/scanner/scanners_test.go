package scanner

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/parsers"
	"github.com/secureops/secureops/internal/targets"
)

// fakeResolver answers from a table, so names can point at loopback (dev
// policy) or at a mix of public and private addresses (production policy)
// without DNS.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

var loopback = fakeResolver{"app.example.test": {netip.MustParseAddr("127.0.0.1")}}

func run(t *testing.T, a *Activities, in scan.RunInput) (scan.RunResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a.Run)
	val, err := env.ExecuteActivity(a.Run, in)
	if err != nil {
		return scan.RunResult{}, err
	}
	var res scan.RunResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

func storedReport(t *testing.T, h *db.DB, tenant, id uuid.UUID) []byte {
	t.Helper()
	var body []byte
	err := h.InTx(context.Background(), db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
		rep, err := db.Q.ScanReportGet(ctx, tx, id)
		body = rep.Content
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func wantAppError(t *testing.T, err error, typ string, mentions ...string) {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != typ || !app.NonRetryable() {
		t.Fatalf("err %v, want non-retryable %s", err, typ)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}

func rules(fs []findings.Finding) map[string]findings.Finding {
	m := map[string]findings.Finding{}
	for _, f := range fs {
		m[f.RuleID] = f
	}
	return m
}

// dockerHub answers for Docker Hub's registry with a public address.
var dockerHub = fakeResolver{"registry-1.docker.io": {netip.MustParseAddr("44.208.254.194")}}

// Images come only from allowed registries that resolve to public addresses,
// and a refusal tells the tenant no address.
func TestImageRegistriesRefused(t *testing.T) {
	bin, argv := standIn(t, "trivy", "echo '{}'\n")
	a := &Activities{Policy: targets.Policy{ImageRegistries: []string{"docker.io", "registry.acme.example", "10.0.0.5:5000"}}, TrivyPath: bin,
		Resolver: fakeResolver{
			"registry-1.docker.io":  {netip.MustParseAddr("44.208.254.194")},
			"registry.acme.example": {netip.MustParseAddr("44.208.254.195"), netip.MustParseAddr("169.254.169.254")},
		}}
	for target, want := range map[string]string{
		"image:ghcr.io/org/app:1":           "allowed registries",
		"image:169.254.169.254/x":           "169.254.169.254",
		"image:registry.acme.example/app:1": "cannot be scanned from this platform",
		"image:10.0.0.5:5000/app":           "cannot be scanned from this platform",
		"image:evil.example.com/nginx":      "allowed registries",
	} {
		_, err := run(t, a, scan.RunInput{Scanner: "trivy", Target: target})
		wantAppError(t, err, scan.ErrTargetNotAllowed, want)
		if target == "image:registry.acme.example/app:1" && strings.Contains(err.Error(), "169.254") {
			t.Errorf("the refusal names the resolved address: %v", err)
		}
	}
	if _, err := os.Stat(argv); err == nil {
		t.Error("trivy ran for a refused image")
	}
}

func TestImageTargetsOnlyForTrivy(t *testing.T) {
	a := &Activities{Policy: targets.Policy{LoopbackOnly: true}, NmapPath: "nmap", TrivyPath: "/bin/true"}
	_, err := run(t, a, scan.RunInput{Scanner: "nmap", Target: "image:nginx:1.27"})
	wantAppError(t, err, scan.ErrInvalidTarget, "docker.io/library/nginx:1.27", "only trivy")
	for _, target := range []string{"127.0.0.1", "http://127.0.0.1:8080/", "app.example.test"} {
		_, err = run(t, a, scan.RunInput{Scanner: "trivy", Target: target})
		wantAppError(t, err, scan.ErrInvalidTarget, "trivy scans container images", "image:<reference>")
	}
}

func TestMissingScannerNamesItsVariable(t *testing.T) {
	a := &Activities{Policy: targets.Policy{LoopbackOnly: true}, NiktoPath: "/nonexistent/nikto", Resolver: dockerHub}
	for scanner, env := range map[string]string{"zap": "ZAP_PATH", "nuclei": "NUCLEI_PATH", "nikto": "NIKTO_PATH", "nmap": "NMAP_PATH"} {
		_, err := run(t, a, scan.RunInput{Scanner: scanner, Target: "127.0.0.1:8080"})
		wantAppError(t, err, scan.ErrScannerNotPresent, env)
	}
	_, err := run(t, a, scan.RunInput{Scanner: "trivy", Target: "image:alpine"})
	wantAppError(t, err, scan.ErrScannerNotPresent, "TRIVY_PATH")
}

// A name answering with one public and one internal address is refused in
// production, whichever answer a scanner would have picked.
func TestProductionRefusesMixedAnswer(t *testing.T) {
	a := &Activities{
		Policy:   targets.Policy{},
		NmapPath: "/bin/true", // must never run
		Resolver: fakeResolver{"mixed.example.com": {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.1.2.3")}},
	}
	for _, target := range []string{"mixed.example.com", "mixed.example.com:443", "https://mixed.example.com/app"} {
		_, err := run(t, a, scan.RunInput{Scanner: "nmap", Target: target})
		wantAppError(t, err, scan.ErrTargetNotAllowed, "10.1.2.3", "private", "mixed.example.com")
	}
	// A failing lookup may be transient: retryable.
	_, err := run(t, a, scan.RunInput{Scanner: "nmap", Target: "gone.example.com"})
	var app *temporal.ApplicationError
	if err == nil || (errors.As(err, &app) && app.NonRetryable()) {
		t.Errorf("DNS failure: %v, want a retryable error", err)
	}
}

func TestArgs(t *testing.T) {
	named := job{t: mustTarget(t, "https://app.example.test:8443/shop/index.php"), addr: netip.MustParseAddr("127.0.0.1")}
	got := niktoArgs(named, endpoint{Port: 8443, TLS: true, Path: "/shop/index.php"}, 90*time.Second, "/tmp/r.xml")
	want := []string{"-h", "127.0.0.1", "-p", "8443", "-ssl", "-vhost", "app.example.test", "-root", "/shop",
		"-nointeractive", "-ask", "no", "-nolookup", "-maxtime", "90s", "-Tuning", "x6", "-Plugins", niktoPlugins,
		"-Display", "P", "-Format", "xml", "-o", "/tmp/r.xml"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("nikto args\n got %q\nwant %q", got, want)
	}
	ip := job{t: mustTarget(t, "[::1]:8080"), addr: netip.MustParseAddr("::1")}
	got = niktoArgs(ip, endpoint{Port: 8080, Path: "/"}, time.Hour, "/tmp/r.xml")
	if strings.Join(got[:6], " ") != "-h ::1 -p 8080 -nossl -nointeractive" {
		t.Errorf("nikto args for an address: %q", got)
	}

	got = nmapArgs(job{t: mustTarget(t, "app.example.test"), addr: netip.MustParseAddr("127.0.0.1")})
	want = []string{"-sT", "-sV", "-Pn", "-n", "--stats-every", "2s", "--script", "ssl-cert,ssl-enum-ciphers,http-headers,http-title",
		"--script-args", "tls.servername=app.example.test,http.host=app.example.test", "-oX", "-", "127.0.0.1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("nmap args\n got %q\nwant %q", got, want)
	}
	got = nmapArgs(job{t: mustTarget(t, "[::1]:22"), addr: netip.MustParseAddr("::1")})
	if s := strings.Join(got, " "); strings.Contains(s, "--script-args") || !strings.HasSuffix(s, "-oX - -p 22 -6 ::1") {
		t.Errorf("nmap args for an address: %q", got)
	}

	got = nmapArgs(job{t: mustTarget(t, "app.example.test:443,80,8080"), addr: netip.MustParseAddr("127.0.0.1")})
	if s := strings.Join(got, " "); !strings.HasSuffix(s, "-oX - -p 80,443,8080 127.0.0.1") {
		t.Errorf("nmap args for a port list: %q", got)
	}

	for _, c := range []struct {
		target, addr string
		u            []string
		host         string
	}{
		{"https://app.example.test/x?y=1", "127.0.0.1", []string{"https://127.0.0.1/x?y=1"}, "app.example.test"},
		{"http://app.example.test:8080/", "::1", []string{"http://[::1]:8080/"}, "app.example.test:8080"},
		{"app.example.test", "127.0.0.1", []string{"127.0.0.1"}, "app.example.test"},
		{"app.example.test:8443", "127.0.0.1", []string{"127.0.0.1:8443"}, "app.example.test:8443"},
		{"app.example.test:8443,80", "127.0.0.1", []string{"127.0.0.1:80", "127.0.0.1:8443"}, "app.example.test"},
		{"127.0.0.1:8000", "127.0.0.1", []string{"127.0.0.1:8000"}, ""},
		{"[::1]:80,443", "::1", []string{"[::1]:80", "[::1]:443"}, ""},
	} {
		u, host := nucleiTargets(job{t: mustTarget(t, c.target), addr: netip.MustParseAddr(c.addr)})
		if strings.Join(u, " ") != strings.Join(c.u, " ") || host != c.host {
			t.Errorf("nucleiTargets(%s) = %q, %q; want %q, %q", c.target, u, host, c.u, c.host)
		}
	}
	got = nucleiArgs(job{t: mustTarget(t, "app.example.test:8443,80"), addr: netip.MustParseAddr("127.0.0.1")})
	if s := strings.Join(got, " "); !strings.HasPrefix(s, "-u 127.0.0.1:80 -u 127.0.0.1:8443 -H Host: app.example.test -jsonl") {
		t.Errorf("nuclei args for a port list: %q", got)
	}
}

func mustTarget(t *testing.T, s string) targets.Target {
	t.Helper()
	tg, err := targets.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// probePorts serves plain HTTP and TLS on two loopback ports and finds a
// third that nothing listens on.
func probePorts(t *testing.T) (plain, secure *httptest.Server, closedPort int) {
	t.Helper()
	plain = httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	secure = httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(secure.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort = closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	return plain, secure, closedPort
}

func TestProbe(t *testing.T) {
	plain, secure, closedPort := probePorts(t)
	lo := netip.MustParseAddr("127.0.0.1")
	for _, c := range []struct {
		name       string
		port       int
		open, isTL bool
	}{
		{"plain", portOf(plain), true, false},
		{"tls", portOf(secure), true, true},
		{"closed", closedPort, false, false},
	} {
		open, isTLS := probe(context.Background(), lo, c.port, "app.example.test")
		if open != c.open || isTLS != c.isTL {
			t.Errorf("%s: open %v tls %v", c.name, open, isTLS)
		}
	}
}

// A port list yields one endpoint per listening port, in port order, each
// with TLS as its probe found it.
func TestWebEndpointsPortList(t *testing.T) {
	plain, secure, closedPort := probePorts(t)
	target := mustTarget(t, "app.example.test:"+strconv.Itoa(portOf(plain))+","+strconv.Itoa(portOf(secure))+","+strconv.Itoa(closedPort))
	eps := webEndpoints(context.Background(), job{t: target, addr: netip.MustParseAddr("127.0.0.1")})
	want := map[int]bool{portOf(plain): false, portOf(secure): true}
	if len(eps) != 2 {
		t.Fatalf("endpoints %+v, want the plain and the TLS port", eps)
	}
	for i, ep := range eps {
		if isTLS, ok := want[ep.Port]; !ok || ep.TLS != isTLS || ep.Path != "/" {
			t.Errorf("endpoint %+v", ep)
		}
		if i > 0 && eps[i-1].Port > ep.Port {
			t.Errorf("endpoints out of port order: %+v", eps)
		}
	}
}

func portOf(s *httptest.Server) int { return s.Listener.Addr().(*net.TCPAddr).Port }

// standIn writes an executable shell script that records its arguments, one
// per line, in argv and then runs body.
func standIn(t *testing.T, name, body string) (path, argv string) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, name)
	argv = filepath.Join(dir, "argv")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > " + argv + "\n" + body
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, argv
}

func readLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func fixture(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "internal", "parsers", "testdata", "scans", rel))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("scan fixture missing: %v", err)
	}
	return p
}

// expectedCount reads DefectDojo's finding count for a fixture.
func expectedCount(t *testing.T, rel string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(fixture(t, rel))), "EXPECTED.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, "\t"); len(f) == 2 && f[0] == rel {
			n, err := strconv.Atoi(strings.TrimSpace(f[1]))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("%s not in EXPECTED.tsv", rel)
	return 0
}

func checkStored(t *testing.T, h *db.DB, tenant uuid.UUID, res scan.RunResult, scanner, rel string) {
	t.Helper()
	fs, err := parsers.Parse(scanner, storedReport(t, h, tenant, res.ReportID))
	if err != nil {
		t.Fatal(err)
	}
	if want := expectedCount(t, rel); len(fs) != want {
		t.Errorf("stored %s report has %d findings, want %d", scanner, len(fs), want)
	}
}

func TestTrivyStandIn(t *testing.T) {
	rel := "trivy/scheme_2_many_vulns.json"
	fx := fixture(t, rel)
	h, tenant, scanID := scanFixture(t)
	envFile := filepath.Join(t.TempDir(), "env")
	bin, argv := standIn(t, "trivy", "env > '"+envFile+"'; ls -A \"$DOCKER_CONFIG\" 2>/dev/null >> '"+envFile+"'\ncat '"+fx+"'\n")
	// The worker's own credentials and Docker logins must not reach trivy.
	workerHome := t.TempDir()
	if err := os.MkdirAll(filepath.Join(workerHome, ".docker"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(workerHome, ".docker", "config.json"), []byte(`{"auths":{"ghcr.io":{"auth":"c2VjcmV0"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", workerHome)
	t.Setenv("DOCKER_CONFIG", filepath.Join(workerHome, ".docker"))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAWORKER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "worker-secret")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "/etc/worker-sa.json")
	t.Setenv("TRIVY_PASSWORD", "registry-secret")
	a := &Activities{DB: h, Policy: targets.Policy{}, TrivyPath: bin, Resolver: dockerHub}
	res, err := run(t, a, scan.RunInput{TenantID: tenant, ScanID: scanID, Scanner: "trivy", Target: "image:nginx:1.27"})
	if err != nil {
		t.Fatal(err)
	}
	want := "image --image-src remote --format json --quiet --scanners vuln docker.io/library/nginx:1.27"
	if got := strings.Join(readLines(t, argv), " "); got != want {
		t.Errorf("argv %q, want %q", got, want)
	}
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"AKIAWORKER", "worker-secret", "worker-sa.json", "registry-secret", "HOME=" + workerHome, "DOCKER_CONFIG=" + workerHome, "config.json"} {
		if strings.Contains(string(env), leak) {
			t.Errorf("trivy's environment carries %q:\n%s", leak, env)
		}
	}
	for _, must := range []string{"AWS_EC2_METADATA_DISABLED=true", "DOCKER_CONFIG=", "PATH="} {
		if !strings.Contains(string(env), must) {
			t.Errorf("trivy's environment lacks %q:\n%s", must, env)
		}
	}
	if res.Address != "" {
		t.Errorf("image scan has address %q", res.Address)
	}
	checkStored(t, h, tenant, res, "trivy", rel)
}

func TestNucleiStandIn(t *testing.T) {
	rel := "nuclei/many_findings.json"
	fx := fixture(t, rel)
	h, tenant, scanID := scanFixture(t)
	bin, argv := standIn(t, "nuclei", "cat '"+fx+"'\n")
	a := &Activities{DB: h, Policy: targets.Policy{LoopbackOnly: true}, Resolver: loopback, NucleiPath: bin}
	res, err := run(t, a, scan.RunInput{TenantID: tenant, ScanID: scanID, Scanner: "nuclei", Target: "http://app.example.test:8081/shop?x=1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-u", "http://127.0.0.1:8081/shop?x=1", "-H", "Host: app.example.test:8081", "-jsonl", "-silent",
		"-disable-update-check", "-no-interactsh", "-disable-redirects", "-exclude-tags", "dos"}
	if got := readLines(t, argv); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("argv %q\nwant %q", got, want)
	}
	checkStored(t, h, tenant, res, "nuclei", rel)
}

func TestZAPStandIn(t *testing.T) {
	rel := "zap/some_2.9.0.xml"
	fx := fixture(t, rel)
	h, tenant, scanID := scanFixture(t)
	// Writes the fixture where -quickout points, and keeps what the JVM
	// would have been told about name resolution.
	body := `out=""; prev=""
for a in "$@"; do [ "$prev" = "-quickout" ] && out="$a"; prev="$a"; done
printf '%s\n' "$JAVA_TOOL_OPTIONS" > "$(dirname "$0")/java_opts"
f="${JAVA_TOOL_OPTIONS##*-Djdk.net.hosts.file=}"; cp "$f" "$(dirname "$0")/hosts"
echo "Active scan 50%"
cp '` + fx + `' "$out"
`
	bin, argv := standIn(t, "zap.sh", body)
	a := &Activities{DB: h, Policy: targets.Policy{LoopbackOnly: true}, Resolver: loopback, ZAPPath: bin}
	res, err := run(t, a, scan.RunInput{TenantID: tenant, ScanID: scanID, Scanner: "zap", Target: "http://app.example.test:8081/shop"})
	if err != nil {
		t.Fatal(err)
	}
	got := readLines(t, argv)
	if len(got) != 9 || got[2] != "-dir" {
		t.Fatalf("argv %q", got)
	}
	tmp := filepath.Dir(got[3])
	want := []string{"-cmd", "-silent", "-dir", tmp + "/home", "-quickurl", "http://app.example.test:8081/shop",
		"-quickout", tmp + "/report.xml", "-quickprogress"}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") || !strings.Contains(filepath.Base(tmp), "secureops-zap-") {
		t.Errorf("argv %q\nwant %q", got, want)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory %s left behind", tmp)
	}
	dir := filepath.Dir(bin)
	if opts := readLines(t, filepath.Join(dir, "java_opts")); len(opts) != 1 || opts[0] != "-Djdk.net.hosts.file="+tmp+"/hosts" {
		t.Errorf("JAVA_TOOL_OPTIONS %q", opts)
	}
	hosts := readLines(t, filepath.Join(dir, "hosts"))
	if hosts[len(hosts)-1] != "127.0.0.1 app.example.test" {
		t.Errorf("hosts file %q", hosts)
	}
	checkStored(t, h, tenant, res, "zap", rel)
}

func requireNikto(t *testing.T) {
	if _, err := exec.LookPath("nikto"); err != nil {
		if os.Getenv("SECUREOPS_REQUIRE_TOOLS") == "1" {
			t.Fatal("nikto not installed")
		}
		t.Skip("nikto not installed")
	}
}

// Real nikto against a bare loopback server, reached through a name: the
// connection goes to the resolved address, the Host header names the site.
func TestRunNiktoAgainstLoopback(t *testing.T) {
	requireNikto(t)
	h, tenant, scanID := scanFixture(t)
	var mu sync.Mutex
	hostHeaders := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hostHeaders[r.Host]++
		mu.Unlock()
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("<html><body>hello</body></html>"))
	}))
	defer srv.Close()
	port := strconv.Itoa(portOf(srv))

	a := &Activities{DB: h, Policy: targets.Policy{LoopbackOnly: true}, Resolver: loopback, NiktoPath: "nikto", NiktoMaxTime: 45 * time.Second}
	start := time.Now()
	res, err := run(t, a, scan.RunInput{TenantID: tenant, ScanID: scanID, Scanner: "nikto", Target: "app.example.test:" + port})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("nikto took %v", time.Since(start))
	body := storedReport(t, h, tenant, res.ReportID)
	fs, err := parsers.Parse("nikto", body)
	if err != nil {
		t.Fatalf("%v\n%.2000s", err, body)
	}
	found := false
	for _, f := range fs {
		if strings.Contains(f.Title, "X-Frame-Options") && f.Port == portOf(srv) {
			found = true
			// The site's name, as the native checks report it, so their
			// shared findings merge (findings.Canonical).
			if f.Host != "app.example.test" {
				t.Errorf("nikto finding host %q, want the site's name", f.Host)
			}
		}
	}
	if !found {
		t.Errorf("no X-Frame-Options finding on port %s in %d findings:\n%.3000s", port, len(fs), body)
	}
	mu.Lock()
	defer mu.Unlock()
	// A few of nikto's tests send no Host or a forged one on purpose, and
	// some plugins name the address; the scan itself must name the site.
	total, named := 0, 0
	for hh, n := range hostHeaders {
		total += n
		if hh == "app.example.test" || hh == "app.example.test:"+port {
			named += n
		}
	}
	if named*2 < total {
		t.Errorf("only %d of %d requests named the virtual host: %v", named, total, hostHeaders)
	}
}

// Cancelling a nikto scan kills nikto (a perl process) with its group.
func TestCancelKillsNikto(t *testing.T) {
	requireNikto(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond) // keeps nikto busy for longer than the test waits
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	port := strconv.Itoa(portOf(srv))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{BackgroundActivityContext: ctx})
	a := &Activities{Policy: targets.Policy{LoopbackOnly: true}, NiktoPath: "nikto", HeartbeatEvery: 100 * time.Millisecond}
	env.RegisterActivity(a.Run)
	pidc := make(chan int, 1)
	go func() {
		defer cancel()
		for i := 0; i < 300; i++ {
			if pid := findProcess([]byte("nikto"), []byte("\x00-p\x00"+port+"\x00")); pid > 0 {
				time.Sleep(300 * time.Millisecond) // let it get into its tests
				pidc <- pid
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		pidc <- 0
	}()
	_, err := env.ExecuteActivity(a.Run, scan.RunInput{TenantID: uuid.New(), ScanID: uuid.New(), Scanner: "nikto", Target: "127.0.0.1:" + port})
	pid := <-pidc
	if pid == 0 {
		t.Fatalf("nikto never started (activity: %v)", err)
	}
	if err == nil || !strings.Contains(err.Error(), context.Canceled.Error()) {
		t.Fatalf("cancelled activity returned %v, want a cancellation", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("nikto (pid %d) still running after cancel", pid)
	}
}

// alive reports whether pid is a running process; a zombie (killed, not yet
// reaped) counts as gone.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || len(b) < i+3 || b[i+2] != 'Z'
}

// findProcess returns the pid of a process whose command line contains
// every part.
func findProcess(parts ...[]byte) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && bytes.Contains(cmd, p)
		}
		if ok {
			return pid
		}
	}
	return 0
}

func TestRunNativeChecks(t *testing.T) {
	h, tenant, scanID := scanFixture(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "1"})
		_, _ = w.Write([]byte("<html><body>shop</body></html>"))
	})
	mux.HandleFunc("/.git/HEAD", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ref: refs/heads/main\n"))
	})
	plain := httptest.NewServer(mux)
	defer plain.Close()
	secure := httptest.NewTLSServer(mux)
	defer secure.Close()

	a := &Activities{DB: h, Policy: targets.Policy{LoopbackOnly: true}, Resolver: loopback}
	a.CheckOptions.Timeout = 5 * time.Second

	res, err := run(t, a, scan.RunInput{TenantID: tenant, ScanID: scanID, Scanner: "secureops", Target: "127.0.0.1:" + strconv.Itoa(portOf(plain))})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := parsers.Parse("secureops", storedReport(t, h, tenant, res.ReportID))
	if err != nil {
		t.Fatal(err)
	}
	got := rules(fs)
	for _, r := range []string{"http-missing-x-frame-options", "exposed-git", "cookie-missing-httponly"} {
		if _, ok := got[r]; !ok {
			t.Errorf("plain HTTP: no %s finding in %v", r, keys(got))
		}
	}
	if _, ok := got["http-missing-hsts"]; ok {
		t.Error("HSTS reported missing on a plain HTTP port")
	}

	// The same scan id and scanner: the retry-safe upsert replaces the report.
	res, err = run(t, a, scan.RunInput{TenantID: tenant, ScanID: scanID, Scanner: "secureops", Target: "app.example.test:" + strconv.Itoa(portOf(secure))})
	if err != nil {
		t.Fatal(err)
	}
	fs, err = parsers.Parse("secureops", storedReport(t, h, tenant, res.ReportID))
	if err != nil {
		t.Fatal(err)
	}
	got = rules(fs)
	for _, r := range []string{"http-missing-hsts", "tls-hostname-mismatch"} {
		f, ok := got[r]
		if !ok {
			t.Errorf("TLS: no %s finding in %v", r, keys(got))
			continue
		}
		if f.Host != "app.example.test" {
			t.Errorf("%s on host %q, want the registered name", r, f.Host)
		}
	}
}

func keys(m map[string]findings.Finding) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
