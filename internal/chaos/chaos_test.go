//go:build chaos

// Package chaos is `make chaos`: the production shape on one machine (the
// embedded Temporal server as its own process, `secureops api` and
// `secureops worker` processes, a throwaway PostgreSQL) and faults injected
// into it, one scripted case at a time, each bounded in time, printing a
// verdict line and recording its figures in bench/results/chaos.json.
// Only loopback targets are scanned. scripts/chaos.sh builds the binary and
// runs it; CHAOS_CASES picks the cases (default: all).
package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/contract/reconcile"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/faults"
	"github.com/secureops/secureops/internal/pgcluster"
	"github.com/secureops/secureops/internal/secretbox"
)

// proc is one of the platform's processes.
type proc struct {
	name string
	log  string // its output
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		p.kill()
	}
}

type env struct {
	t            *testing.T
	bin, dir     string
	pg           *pgcluster.Cluster
	super        *pgxpool.Pool
	app          *db.DB
	baseEnv      []string
	temporalPort int
	temporal     *proc
	tc           client.Client
	apiURL       string
	api          *proc
	workers      map[string]*proc // by name
	svc          *services
	mu           sync.Mutex
	seq          int
}

func newEnv(t *testing.T) *env {
	bin := os.Getenv("CHAOS_BIN")
	if bin == "" {
		t.Skip("CHAOS_BIN (a secureops binary built with -tags devserver) is not set: run `make chaos`")
	}
	dir, err := os.MkdirTemp("", "secureops-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	e := &env{t: t, bin: bin, dir: dir, workers: map[string]*proc{}}
	t.Cleanup(func() {
		for _, w := range e.workers {
			w.stop()
		}
		if e.api != nil {
			e.api.stop()
		}
		if e.tc != nil {
			e.tc.Close()
		}
		if e.temporal != nil {
			e.temporal.stop()
		}
		if e.super != nil {
			e.super.Close()
		}
		if e.app != nil {
			e.app.Close()
		}
		if e.pg != nil {
			_ = e.pg.Stop()
		}
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		} else {
			t.Logf("logs kept in %s", dir)
		}
	})
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	if e.pg, err = pgcluster.Start(ctx, filepath.Join(dir, "pg"), log); err != nil {
		t.Fatal(err)
	}
	if err := e.pg.EnsureDatabase(ctx, "secureops"); err != nil {
		t.Fatal(err)
	}
	superDSN := e.pg.DSN("secureops", pgcluster.SuperUser)
	if err := db.Migrate(ctx, superDSN, log); err != nil {
		t.Fatal(err)
	}
	appDSN, err := config.AppDSN(superDSN)
	if err != nil {
		t.Fatal(err)
	}
	if e.super, err = pgxpool.New(ctx, superDSN); err != nil {
		t.Fatal(err)
	}
	if e.app, err = db.Open(ctx, appDSN); err != nil {
		t.Fatal(err)
	}
	seal, _ := secretbox.GenerateKey()
	codec, _ := secretbox.GenerateKey()
	e.temporalPort = freePort(t)
	e.baseEnv = append(os.Environ(),
		"SECUREOPS_ENV=dev", "LOG_LEVEL=info",
		"DATABASE_URL="+superDSN, "APP_DATABASE_URL="+appDSN,
		"TEMPORAL_ADDRESS=127.0.0.1:"+strconv.Itoa(e.temporalPort), "TEMPORAL_NAMESPACE=default",
		"SECUREOPS_SEAL_KEY="+seal, "TEMPORAL_CODEC_KEY="+codec,
		"API_RATE_LIMIT=1000000",
	)
	e.svc = startServices(t, dir)
	e.baseEnv = append(e.baseEnv, e.svc.env()...)
	e.startTemporal()
	if e.tc, err = client.Dial(client.Options{HostPort: "127.0.0.1:" + strconv.Itoa(e.temporalPort), Namespace: "default",
		Logger: nil}); err != nil {
		t.Fatal(err)
	}
	e.startAPI()
	e.startWorker("orchestration", "scans")
	e.startWorker("onboarding", "onboarding")
	e.startWorker("scanner-1", "scanners")
	return e
}

func freePort(t *testing.T) int {
	p, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// start runs the binary with args; its output goes to <dir>/<name>.log. The
// process dies with the harness (Pdeathsig), its scanners with it.
func (e *env) start(name string, extraEnv []string, args ...string) *proc {
	e.t.Helper()
	e.mu.Lock()
	e.seq++
	logName := fmt.Sprintf("%02d-%s.log", e.seq, name)
	e.mu.Unlock()
	logPath := filepath.Join(e.dir, logName)
	f, err := os.Create(logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(e.bin, args...)
	cmd.Env = append(append([]string{}, e.baseEnv...), extraEnv...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return p
}

func (e *env) startTemporal() {
	e.temporal = e.start("temporal", nil, "temporal-server", "--db-file", filepath.Join(e.dir, "temporal.db"),
		"--port", strconv.Itoa(e.temporalPort), "--ui-port", "-1")
	waitFor(e.t, 60*time.Second, "the Temporal server", func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(e.temporalPort), 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (e *env) startAPI(extraEnv ...string) {
	port := freePort(e.t)
	e.apiURL = "http://127.0.0.1:" + strconv.Itoa(port)
	e.api = e.start("api", append([]string{"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port), "METRICS_ADDR=127.0.0.1:0"}, extraEnv...), "api")
	waitFor(e.t, 60*time.Second, "the API", func() bool {
		resp, err := http.Get(e.apiURL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
}

func (e *env) startWorker(name, queues string) *proc {
	p := e.start("worker-"+name, []string{"METRICS_ADDR=127.0.0.1:0", "WORKER_QUEUES=" + queues}, "worker")
	e.workers[name] = p
	return p
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type tenant struct {
	id  uuid.UUID
	key string
}

func (e *env) tenant(name, tier string) tenant {
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, e.app, nil, bootstrap.TenantInput{Name: name, Tier: tier})
	if err != nil {
		e.t.Fatal(err)
	}
	key, _, err := bootstrap.CreateAPIKey(ctx, e.app, ten.Slug, auth.RoleClientAdmin, nil, "chaos")
	if err != nil {
		e.t.Fatal(err)
	}
	return tenant{id: ten.ID, key: key}
}

// startScan asks the API for a scan; timeout bounds the request (a killed
// API never answers).
func (e *env) startScan(tn tenant, target string, scanners []string, timeout time.Duration) (uuid.UUID, error) {
	body, _ := json.Marshal(map[string]any{"target": target, "scanners": scanners})
	req, _ := http.NewRequest("POST", e.apiURL+"/api/v1/scans", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tn.key)
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return uuid.Nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return uuid.Nil, fmt.Errorf("POST /api/v1/scans: %d %s", resp.StatusCode, raw)
	}
	var out struct {
		ID uuid.UUID `json:"id"`
	}
	return out.ID, json.Unmarshal(raw, &out)
}

func (e *env) scanStatus(id uuid.UUID) string {
	var s string
	if err := e.super.QueryRow(context.Background(), "SELECT status FROM scans WHERE id = $1", id).Scan(&s); err != nil {
		return "error: " + err.Error()
	}
	return s
}

func (e *env) waitScan(id uuid.UUID, within time.Duration) string {
	e.t.Helper()
	var s string
	waitFor(e.t, within, "scan "+id.String()+" to finish", func() bool {
		s = e.scanStatus(id)
		return s == "completed" || s == "failed" || s == "cancelled"
	})
	return s
}

// findings is what a scan stored: its findings' fingerprints, sorted, and
// the number of scan_findings rows (occurrences).
func (e *env) findings(id uuid.UUID) (fps []string, occurrences int) {
	e.t.Helper()
	rows, err := e.super.Query(context.Background(),
		"SELECT f.fingerprint FROM scan_findings sf JOIN findings f ON f.id = sf.finding_id WHERE sf.scan_id = $1 ORDER BY 1", id)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var fp string
		if err := rows.Scan(&fp); err != nil {
			e.t.Fatal(err)
		}
		fps = append(fps, fp)
	}
	return fps, len(fps)
}

// children lists the PIDs of the processes whose parent is pid and whose
// name is comm.
func children(pid int, comm string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		c, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + ent.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < 0 || s[open+1:close] != comm {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, c)
		}
	}
	return out
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie is dead for our purpose.
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// nginxTarget is a loopback web server nmap recognises, the same for every run.
func nginxTarget(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Server", "nginx/1.22.1")
		_, _ = w.Write([]byte("<html><title>chaos target</title></html>"))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// result is one case's line in bench/results/chaos.json.
type result struct {
	Case       string         `json:"case"`
	Verdict    string         `json:"verdict"` // "pass" or "fail"
	Seconds    float64        `json:"seconds"`
	Figures    map[string]any `json:"figures"`
	Notes      string         `json:"notes,omitempty"`
	RecordedAt time.Time      `json:"recorded_at"`
}

var (
	resultsMu sync.Mutex
	results   []result
)

// verdict prints the case's verdict line and records its figures.
func verdict(t *testing.T, name string, began time.Time, figures map[string]any, notes string) {
	r := result{Case: name, Verdict: "pass", Seconds: time.Since(began).Seconds(), Figures: figures, Notes: notes, RecordedAt: time.Now().UTC()}
	if t.Failed() {
		r.Verdict = "fail"
	}
	b, _ := json.Marshal(figures)
	fmt.Printf("CHAOS %-4s %-44s %6.1fs %s\n", strings.ToUpper(r.Verdict), name, r.Seconds, b)
	resultsMu.Lock()
	results = append(results, r)
	resultsMu.Unlock()
}

func writeResults(t *testing.T) {
	out := os.Getenv("CHAOS_RESULTS")
	if out == "" || len(results) == 0 {
		return
	}
	// Cases not run this time keep their last recorded result (a case is
	// its number: a renamed case replaces its old line).
	var prev struct {
		Cases []result `json:"cases"`
	}
	if b, err := os.ReadFile(out); err == nil {
		_ = json.Unmarshal(b, &prev)
	}
	merged := results
	for _, p := range prev.Cases {
		if !slices.ContainsFunc(results, func(r result) bool { return caseNumber(r.Case) == caseNumber(p.Case) }) {
			merged = append(merged, p)
		}
	}
	slices.SortFunc(merged, func(a, b result) int { return strings.Compare(a.Case, b.Case) })
	b, _ := json.MarshalIndent(map[string]any{
		"about": "make chaos: faults injected into the production shape on one machine (scripts/chaos.sh); seconds is the case's wall time",
		"cases": merged,
	}, "", "  ")
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		t.Error(err)
	}
}

func caseNumber(name string) string {
	n, _, _ := strings.Cut(name, " ")
	return n
}

func want(c string) bool {
	list := os.Getenv("CHAOS_CASES")
	if list == "" {
		return true
	}
	return slices.Contains(strings.Split(list, ","), c)
}

func TestChaos(t *testing.T) {
	e := newEnv(t)
	defer writeResults(t)
	if want("0") {
		t.Run("0-dev-killed-and-restarted", func(t *testing.T) { e.t = t; caseDevRestart(e) })
	}
	if want("1") {
		t.Run("1-scanner-worker-killed", func(t *testing.T) { e.t = t; caseScannerWorkerKilled(e) })
	}
	if want("2") {
		t.Run("2-onboarding-worker-killed", func(t *testing.T) { e.t = t; caseOnboardingWorkerKilled(e) })
	}
	if want("3") {
		t.Run("3-api-killed-before-workflow", func(t *testing.T) { e.t = t; caseAPIKilledBeforeStart(e) })
	}
	if want("4") {
		t.Run("4-postgres-restarted-mid-ingest", func(t *testing.T) { e.t = t; casePostgresRestarted(e) })
	}
	if want("5") {
		t.Run("5-temporal-killed-mid-scan", func(t *testing.T) { e.t = t; caseTemporalKilled(e) })
	}
	if want("6") {
		t.Run("6-burst-fairness", func(t *testing.T) { e.t = t; caseBurst(e) })
	}
	if want("7") {
		t.Run("7-billing-triage-report-workers-killed", func(t *testing.T) { e.t = t; caseBillingTriageKilled(e) })
	}
}

// Case 0: `make run` after a SIGKILL of the previous `secureops dev`: its
// PostgreSQL survives the kill (pg_ctl detaches it), its Kratos and
// stripe-mock must not; the next start must come up by itself.
func caseDevRestart(e *env) {
	t := e.t
	began := time.Now()
	data := filepath.Join(e.dir, "dev-data")
	var devEnv []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DATABASE_URL", "APP_DATABASE_URL", "KRATOS_PUBLIC_URL", "KRATOS_ADMIN_URL", "STRIPE_API_BASE", "STRIPE_SECRET_KEY", "HTTP_ADDR":
			continue
		}
		devEnv = append(devEnv, kv)
	}
	stripe := freePort(t)
	devEnv = append(devEnv, "SECUREOPS_ENV=dev", "DATA_DIR="+data,
		"API_PORT="+strconv.Itoa(freePort(t)), "TEMPORAL_PORT="+strconv.Itoa(freePort(t)), "TEMPORAL_UI_PORT="+strconv.Itoa(freePort(t)),
		"KRATOS_PUBLIC_PORT="+strconv.Itoa(freePort(t)), "KRATOS_ADMIN_PORT="+strconv.Itoa(freePort(t)), "STRIPE_MOCK_PORT="+strconv.Itoa(stripe))
	run := func(name string) (*proc, string) {
		saved := e.baseEnv
		e.baseEnv = devEnv
		p := e.start(name, nil, "dev")
		e.baseEnv = saved
		logs, _ := filepath.Glob(filepath.Join(e.dir, "*-"+name+".log"))
		return p, logs[len(logs)-1]
	}
	ready := func(p *proc, log string) bool {
		b, _ := os.ReadFile(log)
		select {
		case <-p.done:
			t.Fatalf("secureops dev exited:\n%s", b)
		default:
		}
		return bytes.Contains(b, []byte("SecureOps is ready"))
	}
	pidIn := func(path string) int {
		b, _ := os.ReadFile(path)
		pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
		return pid
	}

	first, log1 := run("dev-1")
	waitFor(t, 3*time.Minute, "the first secureops dev", func() bool { return ready(first, log1) })
	postmaster := pidIn(filepath.Join(data, "pg", "postmaster.pid"))
	kratos := pidIn(filepath.Join(data, "kratos", "kratos.pid"))
	stripeMock := pidIn(filepath.Join(data, "stripe-mock", "stripe-mock.pid"))
	first.kill()
	time.Sleep(time.Second)
	orphanedPG := alive(postmaster)
	leftChildren := 0
	for _, pid := range []int{kratos, stripeMock} {
		if pid > 0 && alive(pid) {
			leftChildren++
		}
	}

	restart := time.Now()
	second, log2 := run("dev-2")
	waitFor(t, 3*time.Minute, "secureops dev after the SIGKILL", func() bool { return ready(second, log2) })
	toReady := time.Since(restart).Seconds()
	oldPGGone := !alive(postmaster)
	b, _ := os.ReadFile(log2)
	stoppedOrphan := bytes.Contains(b, []byte("a previous run left behind"))
	second.stop()
	if leftChildren != 0 || !oldPGGone || (orphanedPG && !stoppedOrphan) {
		t.Errorf("children left %d, old postmaster gone %v, orphan stopped %v", leftChildren, oldPGGone, stoppedOrphan)
	}
	verdict(t, "0 secureops dev SIGKILLed, make run again", began, map[string]any{
		"postgres_outlived_kill": orphanedPG, "children_left_after_kill": leftChildren,
		"orphan_stopped_by_next_start": stoppedOrphan, "restart_to_ready_s": round(toReady),
	}, "Kratos and stripe-mock die with it (Pdeathsig); its PostgreSQL is stopped by the next start")
}

// Case 1: SIGKILL the scanner worker while nmap runs.
func caseScannerWorkerKilled(e *env) {
	t := e.t
	began := time.Now()
	tn := e.tenant("Chaos One", "pro")
	target := nginxTarget(t)

	// The undisturbed run to compare with.
	base, err := e.startScan(tn, target, []string{"nmap"}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	baseStart := time.Now()
	if s := e.waitScan(base, 3*time.Minute); s != "completed" {
		t.Fatalf("undisturbed scan %s", s)
	}
	baseSecs := time.Since(baseStart).Seconds()
	baseFPs, baseOcc := e.findings(base)

	id, err := e.startScan(tn, target, []string{"nmap"}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := e.workers["scanner-1"]
	var nmaps []int
	waitFor(t, 60*time.Second, "nmap under the scanner worker", func() bool {
		nmaps = children(w.cmd.Process.Pid, "nmap")
		return len(nmaps) > 0
	})
	killedAt := time.Now()
	w.kill()
	delete(e.workers, "scanner-1")
	orphaned := 0
	time.Sleep(500 * time.Millisecond)
	for _, p := range nmaps {
		if alive(p) {
			orphaned++
		}
	}
	e.startWorker("scanner-2", "scanners")
	// Heartbeat timeout (1 min) + retry backoff (10 s) + the scan itself.
	s := e.waitScan(id, 4*time.Minute)
	recovered := time.Since(killedAt).Seconds()
	fps, occ := e.findings(id)
	var attempts int
	_ = e.super.QueryRow(context.Background(), "SELECT count(*) FROM scans WHERE id = $1", id).Scan(&attempts)
	same := slices.Equal(fps, baseFPs) && occ == baseOcc
	if s != "completed" || orphaned != 0 || !same {
		t.Errorf("status %s, orphaned nmap %d, findings %d/%d (undisturbed %d/%d), same %v", s, orphaned, len(fps), occ, len(baseFPs), baseOcc, same)
	}
	verdict(t, "1 scanner worker SIGKILLed mid-nmap", began, map[string]any{
		"undisturbed_scan_s": round(baseSecs), "killed_to_completed_s": round(recovered),
		"orphaned_nmap": orphaned, "findings": len(fps), "undisturbed_findings": len(baseFPs),
		"occurrences": occ, "undisturbed_occurrences": baseOcc, "duplicates": len(fps) - len(baseFPs),
	}, "recovery is bounded by the scanner activity's 1 min heartbeat timeout plus its 10 s retry backoff")
}

// Case 3: SIGKILL the API between the scan row and the workflow start.
func caseAPIKilledBeforeStart(e *env) {
	t := e.t
	began := time.Now()
	tn := e.tenant("Chaos Three", "pro")
	target := nginxTarget(t)
	normal := e.api
	// A second API armed to pause at the point; the harness kills it there.
	normalURL := e.apiURL
	e.startAPI("SECUREOPS_FAULT_PAUSE=scan-row-written", "SECUREOPS_FAULT_PAUSE_FOR=2m")
	armed := e.api
	go func() { _, _ = e.startScan(tn, target, []string{"nmap"}, 3*time.Minute) }()
	var id uuid.UUID
	waitFor(t, 30*time.Second, "the scan row", func() bool {
		return e.super.QueryRow(context.Background(), "SELECT id FROM scans WHERE tenant_id = $1", tn.id).Scan(&id) == nil
	})
	time.Sleep(200 * time.Millisecond)
	armed.kill()
	killedAt := time.Now()
	e.api, e.apiURL = normal, normalURL
	if _, err := e.tc.DescribeWorkflowExecution(context.Background(), "scan/"+id.String(), ""); err == nil {
		t.Fatal("the workflow started before the kill: the fault point did not hold")
	}
	// The reconciler leaves scans younger than its 2 min grace alone (a start
	// may still be under way); rather than wait, the row is aged past it and
	// the reconcile schedule triggered, as its next 5-minute tick would.
	if _, err := e.super.Exec(context.Background(), "UPDATE scans SET created_at = created_at - interval '3 minutes' WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	if err := e.tc.ScheduleClient().GetHandle(context.Background(), reconcile.ScheduleID).Trigger(context.Background(), client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	s := e.waitScan(id, 3*time.Minute)
	recovered := time.Since(killedAt).Seconds()
	var rows int
	_ = e.super.QueryRow(context.Background(), "SELECT count(*) FROM scans WHERE tenant_id = $1", tn.id).Scan(&rows)
	runs, err := e.runs("scan/" + id.String())
	if s != "completed" || rows != 1 || runs != 1 {
		t.Errorf("status %s, scan rows %d, workflow runs %d (%v)", s, rows, runs, err)
	}
	verdict(t, "3 API SIGKILLed between scan row and workflow", began, map[string]any{
		"killed_to_completed_s": round(recovered), "scan_rows": rows, "workflow_runs": runs, "duplicates": rows - 1 + runs - 1,
	}, "the row is aged past the reconciler's 2 min grace and its schedule triggered instead of waiting up to 7 min")
}

// trivyReport is a Trivy JSON report with n distinct vulnerabilities.
func trivyReport(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"SchemaVersion":2,"ArtifactName":"registry.chaos.test/app:1.0","ArtifactType":"container_image","Results":[{"Target":"registry.chaos.test/app:1.0 (debian 12)","Class":"os-pkgs","Type":"debian","Vulnerabilities":[`)
	sev := []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"}
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"VulnerabilityID":"CVE-2099-%d","PkgName":"pkg%d","InstalledVersion":"1.0.%d","FixedVersion":"1.1","Severity":"%s","Title":"chaos vulnerability %d","Description":"synthetic"}`,
			100000+i, i, i%97, sev[i%4], i)
	}
	b.WriteString(`]}]}`)
	return b.Bytes()
}

func (e *env) importReport(tn tenant, scanner, target string, report []byte) (uuid.UUID, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("scanner", scanner)
	_ = mw.WriteField("target", target)
	fw, _ := mw.CreateFormFile("file", "report.json")
	_, _ = fw.Write(report)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", e.apiURL+"/api/v1/scans/import", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tn.key)
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return uuid.Nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return uuid.Nil, fmt.Errorf("import: %d %s", resp.StatusCode, raw)
	}
	var out struct {
		ID uuid.UUID `json:"id"`
	}
	return out.ID, json.Unmarshal(raw, &out)
}

// Case 4: pg_ctl restart -m immediate while 100k findings are ingested.
func casePostgresRestarted(e *env) {
	t := e.t
	began := time.Now()
	tn := e.tenant("Chaos Four", "pro")
	const n = 100_000
	id, err := e.importReport(tn, "trivy", "image:registry.chaos.test/app:1.0", trivyReport(n))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "the ingest to run", func() bool { return e.scanStatus(id) == "running" })
	time.Sleep(300 * time.Millisecond)
	state := e.scanStatus(id)
	restartAt := time.Now()
	if err := e.pg.RestartImmediate(context.Background()); err != nil {
		t.Fatal(err)
	}
	down := time.Since(restartAt).Seconds()
	s := e.waitScan(id, 5*time.Minute)
	recovered := time.Since(restartAt).Seconds()
	var occ, fnd int
	_ = e.super.QueryRow(context.Background(), "SELECT count(*) FROM scan_findings WHERE scan_id = $1", id).Scan(&occ)
	_ = e.super.QueryRow(context.Background(), "SELECT count(*) FROM findings WHERE tenant_id = $1", tn.id).Scan(&fnd)
	// Evidence that the restart hit the work: the workers' logs name the
	// connections it cut.
	cut := e.logLines("worker-", "57P01", "terminating connection", "unexpected EOF", "connection refused", "conn closed")
	if s != "completed" || occ != n || fnd != n {
		t.Errorf("status %s, occurrences %d, findings %d, want %d", s, occ, fnd, n)
	}
	verdict(t, "4 PostgreSQL restarted (immediate) mid-ingest", began, map[string]any{
		"status_at_restart": state, "worker_log_lines_on_cut_connections": cut, "restart_s": round(down), "restart_to_completed_s": round(recovered),
		"findings": fnd, "occurrences": occ, "duplicates": occ - n,
	}, "100k-finding Trivy import")
}

// Case 5: SIGKILL the Temporal server mid-scan and mid-onboarding (a
// sign-up held 15 s inside its Stripe subscription step); restart it on the
// same file.
func caseTemporalKilled(e *env) {
	t := e.t
	began := time.Now()
	tn := e.tenant("Chaos Five", "pro")
	target := nginxTarget(t)
	e.workers["onboarding"].stop()
	su := e.signup("Chaos Five Onboarding", "owner@chaos-five.test")
	w := e.startWorkerWith("onboarding", "onboarding", armed(15*time.Second, faults.OnboardingStripeSubscription+"@"+su.tenant.String())...)
	e.paused(w, 1, time.Minute)
	id, err := e.startScan(tn, target, []string{"nmap"}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the scan to run", func() bool { return e.scanStatus(id) == "running" })
	e.temporal.kill()
	killedAt := time.Now()
	time.Sleep(2 * time.Second)
	e.startTemporal()
	restarted := time.Since(killedAt).Seconds()
	s := e.waitScan(id, 4*time.Minute)
	recovered := time.Since(killedAt).Seconds()
	fps, occ := e.findings(id)
	runs, err := e.runs("scan/" + id.String())
	if s != "completed" || runs != 1 || len(fps) == 0 {
		t.Errorf("status %s, workflow runs %d, findings %d (%v)", s, runs, len(fps), err)
	}
	waitFor(t, 4*time.Minute, "the sign-up to finish", func() bool {
		st, _ := e.signupStatus(su)
		return st != onboarding.StatusRunning && !strings.HasPrefix(st, "error")
	})
	onbRecovered := time.Since(killedAt).Seconds()
	o := e.onboarded(su)
	if bad := o.once(); len(bad) > 0 {
		t.Errorf("the sign-up: %s", strings.Join(bad, "; "))
	}
	verdict(t, "5 Temporal server SIGKILLed mid-scan and mid-onboarding", began, map[string]any{
		"server_down_s": round(restarted), "killed_to_completed_s": round(recovered), "workflow_runs": runs,
		"findings": len(fps), "occurrences": occ,
		"onboarding_status": o.status, "onboarding_killed_to_completed_s": round(onbRecovered), "onboarding_runs": o.runs,
		"stripe_customers": o.customers, "stripe_subscriptions": o.subscriptions, "kratos_identities": o.identities, "welcome_emails": o.welcome,
		"duplicates": max(o.customers-1, 0) + max(o.subscriptions-1, 0) + max(o.identities-1, 0) + max(o.welcome-1, 0) + max(o.runs-1, 0) + max(runs-1, 0),
	}, "the sign-up is held 15 s inside its Stripe subscription step (Stripe called, the id not stored) while the server is killed")
}

// Case 6: 200 scans for a basic tenant, one for another tenant.
func caseBurst(e *env) {
	t := e.t
	began := time.Now()
	basic := e.tenant("Chaos Six Basic", "basic")
	other := e.tenant("Chaos Six Other", "pro")
	// A closed loopback port: the native scanner answers at once.
	closed := "127.0.0.1:" + strconv.Itoa(freePort(t))
	const n = 200
	ids := make([]uuid.UUID, n)
	var wg sync.WaitGroup
	var errs []error
	var emu sync.Mutex
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			id, err := e.startScan(basic, closed, []string{"secureops"}, time.Minute)
			emu.Lock()
			defer emu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			ids[i] = id
		}()
	}
	// Sample the basic tenant's running scans while everything runs.
	maxRunning := 0
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var running int
			_ = e.super.QueryRow(context.Background(), "SELECT count(*) FROM scans WHERE tenant_id = $1 AND status = 'running'", basic.id).Scan(&running)
			if running > maxRunning {
				maxRunning = running
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	time.Sleep(time.Second) // the burst is under way
	otherStart := time.Now()
	oid, err := e.startScan(other, closed, []string{"secureops"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	s := e.waitScan(oid, time.Minute)
	otherSecs := time.Since(otherStart).Seconds()
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d starts failed, first: %v", len(errs), n, errs[0])
	}
	var notDone int
	waitFor(t, 10*time.Minute, "the burst to finish", func() bool {
		_ = e.super.QueryRow(context.Background(), "SELECT count(*) FROM scans WHERE tenant_id = $1 AND status NOT IN ('completed','failed','cancelled')", basic.id).Scan(&notDone)
		return notDone == 0
	})
	close(stopSampling)
	<-sampled
	var completed int
	_ = e.super.QueryRow(context.Background(), "SELECT count(*) FROM scans WHERE tenant_id = $1 AND status = 'completed'", basic.id).Scan(&completed)
	burstSecs := time.Since(began).Seconds()
	if s != "completed" || completed != n || maxRunning > 2 || otherSecs > 15 {
		t.Errorf("other tenant's scan %s in %.1fs; basic: %d/%d completed, at most %d running", s, otherSecs, completed, n, maxRunning)
	}
	verdict(t, "6 burst of 200 basic-tier scans beside one other", began, map[string]any{
		"other_tenant_scan_s": round(otherSecs), "basic_max_running": maxRunning, "basic_completed": completed,
		"burst_s": round(burstSecs),
	}, "running counted from scans.status every 20 ms")
}

// logLines counts the lines, in the logs of the processes whose name has
// prefix, that contain any of the needles.
func (e *env) logLines(prefix string, needles ...string) int {
	files, _ := filepath.Glob(filepath.Join(e.dir, "*-"+prefix+"*.log"))
	n := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n") {
			if slices.ContainsFunc(needles, func(s string) bool { return strings.Contains(line, s) }) {
				n++
			}
		}
	}
	return n
}

// runs counts the workflow runs with the given ID, open or closed.
func (e *env) runs(wid string) (int, error) {
	list, err := e.tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: "default", Query: "WorkflowId = '" + wid + "'"})
	if err != nil {
		return -1, err
	}
	return len(list.GetExecutions()), nil
}

func round(f float64) float64 { return float64(int(f*10+0.5)) / 10 }
