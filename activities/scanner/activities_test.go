package scanner

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
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
	"github.com/secureops/secureops/internal/parsers"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// scanFixture creates a tenant and a scan row for the report to belong to.
func scanFixture(t *testing.T) (*db.DB, uuid.UUID, uuid.UUID) {
	t.Helper()
	d := pgtest.New(t)
	ctx := context.Background()
	owner, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	var tenant uuid.UUID
	if err := owner.QueryRow(ctx, "INSERT INTO tenants (slug, name) VALUES ('scan-test', 'Scan test') RETURNING id").Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	scanID := uuid.New()
	if _, err := owner.Exec(ctx, "INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, status) VALUES ($1, $2, 'x', '{nmap}', 'w', 'running')", scanID, tenant); err != nil {
		t.Fatal(err)
	}
	return d.OpenApp(t), tenant, scanID
}

func requireNmap(t *testing.T) {
	if _, err := exec.LookPath("nmap"); err != nil {
		if os.Getenv("SECUREOPS_REQUIRE_TOOLS") == "1" {
			t.Fatal("nmap not installed")
		}
		t.Skip("nmap not installed")
	}
}

func TestRunNmapAgainstLoopbackStoresReport(t *testing.T) {
	requireNmap(t)
	h, tenant, scanID := scanFixture(t)
	var mu sync.Mutex
	var hosts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
		// A banner nmap has a signature for, so -sV ends at once instead of
		// trying every probe on an unknown service (≈ 90 s).
		w.Header().Set("Server", "nginx/1.22.1")
		_, _ = w.Write([]byte("<html><head><title>Shop front</title></head></html>"))
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := &Activities{DB: h, Policy: targets.Policy{LoopbackOnly: true}, Resolver: loopback, NmapPath: "nmap"}
	env.RegisterActivity(a.Run)
	val, err := env.ExecuteActivity(a.Run, scan.RunInput{TenantID: tenant, ScanID: scanID, Scanner: "nmap", Target: "app.example.test:" + strconv.Itoa(port)})
	if err != nil {
		t.Fatal(err)
	}
	var res scan.RunResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Address != "127.0.0.1" || res.Bytes == 0 {
		t.Fatalf("result %+v", res)
	}
	body := storedReport(t, h, tenant, res.ReportID)
	if !strings.Contains(string(body), "<nmaprun") || !strings.Contains(string(body), `portid="`+strconv.Itoa(port)+`"`) || !strings.Contains(string(body), `state="open"`) {
		t.Errorf("report does not show the open port %d:\n%.2000s", port, body)
	}
	fs, err := parsers.Parse("nmap", body)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Port != port || fs[0].Component != "nginx" {
		t.Fatalf("findings %+v", fs)
	}
	// The NSE output is what makes the finding useful beyond "port open".
	for _, want := range []string{"http-title:", "Shop front", "http-headers:", "Server: nginx/1.22.1"} {
		if !strings.Contains(fs[0].Evidence, want) {
			t.Errorf("evidence lacks %q:\n%s", want, fs[0].Evidence)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	named := false
	for _, h := range hosts {
		named = named || strings.HasPrefix(h, "app.example.test")
	}
	if !named {
		t.Error("the NSE scripts never sent the target's name as Host")
	}
}

// Every port of a host target's list is scanned, in one nmap run.
func TestRunNmapScansEveryListedPort(t *testing.T) {
	requireNmap(t)
	h, tenant, scanID := scanFixture(t)
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Server", "nginx/1.22.1") // keeps -sV short, as above
		_, _ = w.Write([]byte("<html><head><title>Shop front</title></head></html>"))
	})
	one, two := httptest.NewServer(handler), httptest.NewServer(handler)
	defer one.Close()
	defer two.Close()
	p1, p2 := portOf(one), portOf(two)

	a := &Activities{DB: h, Policy: targets.Policy{LoopbackOnly: true}, Resolver: loopback, NmapPath: "nmap"}
	target := "app.example.test:" + strconv.Itoa(p2) + "," + strconv.Itoa(p1)
	res, err := run(t, a, scan.RunInput{TenantID: tenant, ScanID: scanID, Scanner: "nmap", Target: target})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := parsers.Parse("nmap", storedReport(t, h, tenant, res.ReportID))
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]bool{}
	for _, f := range fs {
		got[f.Port] = true
	}
	if len(fs) != 2 || !got[p1] || !got[p2] {
		t.Fatalf("findings on ports %v, want %d and %d: %+v", got, p1, p2, fs)
	}
}

func TestRunRefusesNonLoopbackInDevMode(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := &Activities{Policy: targets.Policy{LoopbackOnly: true}, NmapPath: "nmap"}
	env.RegisterActivity(a.Run)
	for _, target := range []string{"10.0.0.1", "169.254.169.254:80", "8.8.8.8"} {
		_, err := env.ExecuteActivity(a.Run, scan.RunInput{TenantID: uuid.New(), ScanID: uuid.New(), Scanner: "nmap", Target: target})
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != scan.ErrTargetNotAllowed || !app.NonRetryable() {
			t.Errorf("%s: err %v, want non-retryable %s", target, err, scan.ErrTargetNotAllowed)
		}
	}
	_, err := env.ExecuteActivity(a.Run, scan.RunInput{Scanner: "nmap", Target: "not a target"})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != scan.ErrInvalidTarget {
		t.Errorf("invalid target: err %v", err)
	}
}

// A cancelled scan must not leave its scanner running: the whole process
// group (the scanner and anything it forked) is killed.
func TestCancelKillsScannerProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pids")
	fake := filepath.Join(dir, "nmap")
	// Stands in for nmap: reports progress, forks a child, and never ends.
	script := "#!/bin/sh\n" +
		"sleep 300 &\n" +
		"echo $$ $! > " + pidFile + "\n" +
		"echo '<taskprogress task=\"Connect Scan\" percent=\"12.50\" />'\n" +
		"wait\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{BackgroundActivityContext: ctx})
	a := &Activities{Policy: targets.Policy{LoopbackOnly: true}, NmapPath: fake, HeartbeatEvery: 100 * time.Millisecond}
	env.RegisterActivity(a.Run)
	go func() {
		for i := 0; i < 100; i++ {
			if b, err := os.ReadFile(pidFile); err == nil && len(strings.Fields(string(b))) == 2 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	_, err := env.ExecuteActivity(a.Run, scan.RunInput{TenantID: uuid.New(), ScanID: uuid.New(), Scanner: "nmap", Target: "127.0.0.1:9"})
	// The test environment reports the cancellation as an activity error
	// wrapping the context's; anything else (a panic, a scanner failure) fails.
	if err == nil || !strings.Contains(err.Error(), context.Canceled.Error()) || strings.Contains(err.Error(), "panic") {
		t.Fatalf("cancelled activity returned %v, want a cancellation", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("cancel took %v", d)
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("process %d still alive after cancel", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
