package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/targets"
)

// BenchmarkReadsAtScale is issue 16's "reads at scale": 1,000 tenants and
// 1,000,000 findings (one tenant holding a fifth of them), loaded by COPY as
// the superuser and analysed, then read through the HTTP API with the API
// keys of the large tenant and of a 100-finding one (the RLS-bound app
// role): the dashboard, the findings list's first page and a deep keyset
// page, each filter, each sort and the text search, each at concurrency 8.
//
// One line per target: p99 (p50, p95), the floor (the same statements alone
// through pgx as the app role in the same scope, at the same concurrency;
// and /healthz under the same load), the ratio, the target (p99 < 50 ms) and
// met or missed. The plan of every statement is taken with EXPLAIN in the
// same role and scope; a sequential scan of findings is a miss whatever
// the time. Results go to bench/results/reads.json.
//
// READS_SCALE sets the total findings (default 1M; e.g. 100k for a quick
// run, 0 to skip). Loading 1M takes a few minutes on two cores.
func BenchmarkReadsAtScale(b *testing.B) {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		b.Skip("TEST_DATABASE_URL not set")
	}
	total := readsScale(b)
	ctx := context.Background()
	p := startWith(b, options{noWorkers: true})
	super, err := pgx.Connect(ctx, p.superDSN)
	if err != nil {
		b.Fatal(err)
	}
	defer super.Close(ctx)

	env := loadReads(b, ctx, p, super, total)
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	const conc, perWorker = 8, 15

	get := func(key, path string) (time.Duration, []byte, error) {
		req, _ := http.NewRequest("GET", p.api.URL+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			return 0, nil, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return took, body, nil
	}

	b.ResetTimer()
	healthz := measureLatencies(b, conc, perWorker, func() (time.Duration, error) {
		d, _, err := get("", "/healthz")
		return d, err
	})
	logf("reads: /healthz at concurrency %d: p50 %s p99 %s", conc, ms(pct(healthz, 50)), ms(pct(healthz, 99)))

	report := readsReport{Scale: total, Tenants: env.tenants, LoadSeconds: env.loadSeconds, Concurrency: conc,
		Requests: conc * perWorker, TargetP99Ms: 50, HealthzP99Ms: msf(pct(healthz, 99)), HealthzP50Ms: msf(pct(healthz, 50))}
	report.LoadAvg = append(report.LoadAvg, loadAvg())
	missed := 0
	for _, ten := range []readsTenant{env.big, env.small} {
		for _, c := range readsCases(b, ten, get) {
			// Warm the plans and the caches, and take the plans.
			for range 3 {
				if _, _, err := get(ten.key, c.path); err != nil {
					b.Fatal(err)
				}
			}
			plans := explainCase(b, ctx, p.db, ten, c)
			fig := measureLatencies(b, conc, perWorker, func() (time.Duration, error) {
				d, _, err := get(ten.key, c.path)
				return d, err
			})
			floor := measureLatencies(b, conc, perWorker, func() (time.Duration, error) {
				start := time.Now()
				err := p.db.InTx(ctx, db.TenantScope(ten.id), func(ctx context.Context, tx pgx.Tx) error { return c.sql(ctx, tx) })
				return time.Since(start), err
			})
			var seq []string
			for _, pl := range plans {
				if strings.Contains(pl, "Seq Scan on findings") {
					seq = append(seq, firstLine(pl))
				}
			}
			r := readsResult{
				Name: ten.name + "/" + c.name, Path: c.path, Findings: ten.findings,
				P50Ms: msf(pct(fig, 50)), P95Ms: msf(pct(fig, 95)), P99Ms: msf(pct(fig, 99)),
				FloorP50Ms: msf(pct(floor, 50)), FloorP99Ms: msf(pct(floor, 99)),
				SeqScan: len(seq) > 0, Plans: plans,
			}
			r.Ratio = r.P99Ms / math.Max(r.FloorP99Ms, 0.001)
			r.Met = r.P99Ms < 50 && !r.SeqScan
			verdict := "met"
			if !r.Met {
				verdict = "missed"
				missed++
			}
			note := ""
			if r.SeqScan {
				note = " [plan: Seq Scan on findings]"
			}
			logf("reads %s: p99 %.1f ms (p50 %.1f, p95 %.1f), floor %.1f ms (same SQL via pgx p99; /healthz p99 %.1f ms), ratio %.2f, target p99 < 50 ms, %s%s",
				r.Name, r.P99Ms, r.P50Ms, r.P95Ms, r.FloorP99Ms, report.HealthzP99Ms, r.Ratio, verdict, note)
			if os.Getenv("BENCH_VERBOSE") != "" {
				for _, pl := range plans {
					logf("plan of %s:\n%s", r.Name, pl)
				}
			}
			report.Results = append(report.Results, r)
		}
	}
	b.StopTimer()
	report.Missed = missed
	report.LoadAvg = append(report.LoadAvg, loadAvg())
	logf("reads: %d of %d targets missed; load average before/after: %v", missed, len(report.Results), report.LoadAvg)
	report.Measured = time.Now().UTC().Format(time.RFC3339)
	b.ReportMetric(float64(missed), "targets_missed")
	writeReadsJSON(b, report)
}

// readsScale reads READS_SCALE: "1M" (default), "100k", a plain number, or
// 0 to skip.
func readsScale(b *testing.B) int {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("READS_SCALE")))
	if v == "" {
		return 1_000_000
	}
	mult := 1
	switch {
	case strings.HasSuffix(v, "m"):
		mult, v = 1_000_000, strings.TrimSuffix(v, "m")
	case strings.HasSuffix(v, "k"):
		mult, v = 1_000, strings.TrimSuffix(v, "k")
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("READS_SCALE=%q: want e.g. 1M, 100k or 0", os.Getenv("READS_SCALE"))
	}
	if n*mult == 0 {
		b.Skip("READS_SCALE=0")
	}
	if n*mult < 10_000 {
		b.Fatalf("READS_SCALE=%q: at least 10k", os.Getenv("READS_SCALE"))
	}
	return n * mult
}

type readsTenant struct {
	name     string
	id       uuid.UUID
	key      string
	findings int
	target   string // a scan target of the tenant
	host     string
	cve      string // a CVE the tenant has
}

type readsEnv struct {
	big, small  readsTenant
	tenants     int
	loadSeconds float64
}

type readsCase struct {
	name, path string
	// sql is what the request runs against Postgres, alone: the floor.
	sql func(ctx context.Context, tx pgx.Tx) error
}

type readsResult struct {
	Name       string   `json:"name"`
	Path       string   `json:"path"`
	Findings   int      `json:"tenant_findings"`
	P50Ms      float64  `json:"p50_ms"`
	P95Ms      float64  `json:"p95_ms"`
	P99Ms      float64  `json:"p99_ms"`
	FloorP50Ms float64  `json:"floor_p50_ms"`
	FloorP99Ms float64  `json:"floor_p99_ms"`
	Ratio      float64  `json:"ratio"`
	SeqScan    bool     `json:"seq_scan_on_findings"`
	Met        bool     `json:"met"`
	Plans      []string `json:"plans"`
}

type readsReport struct {
	Measured     string  `json:"measured"`
	Scale        int     `json:"findings"`
	Tenants      int     `json:"tenants"`
	LoadSeconds  float64 `json:"load_seconds"`
	Concurrency  int     `json:"concurrency"`
	Requests     int     `json:"requests_per_case"`
	TargetP99Ms  float64 `json:"target_p99_ms"`
	HealthzP50Ms float64 `json:"healthz_p50_ms"`
	HealthzP99Ms float64 `json:"healthz_p99_ms"`
	Missed       int     `json:"missed"`
	// LoadAvg is /proc/loadavg before and after the measurements: the
	// machine is shared, and the figures move with it.
	LoadAvg []string      `json:"loadavg"`
	Results []readsResult `json:"results"`
}

// readsCases are the requests measured for one tenant, each with the
// statements it runs.
func readsCases(b *testing.B, ten readsTenant, get func(key, path string) (time.Duration, []byte, error)) []readsCase {
	list := func(f db.FindingFilter) func(ctx context.Context, tx pgx.Tx) error {
		f.TenantIDs = []uuid.UUID{ten.id}
		if f.Limit == 0 {
			f.Limit = 100
		}
		return func(ctx context.Context, tx pgx.Tx) error {
			_, _, err := db.ListFindings(ctx, tx, f)
			return err
		}
	}
	t := true
	half := 0.5
	cases := []readsCase{
		{name: "dashboard", path: "/api/v1/dashboard", sql: func(ctx context.Context, tx pgx.Tx) error { return dashboardSQL(ctx, tx, ten.id) }},
		{name: "findings_first_page", path: "/api/v1/findings", sql: list(db.FindingFilter{})},
	}
	// The deep page: follow the cursors of the default order some pages in.
	deepPath, deepCursor, pages := "", "", 0
	path := "/api/v1/findings?limit=500"
	for pages < 40 {
		_, body, err := get(ten.key, path)
		if err != nil {
			b.Fatal(err)
		}
		var pg struct {
			Next *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &pg); err != nil {
			b.Fatal(err)
		}
		if pg.Next == nil {
			break
		}
		pages++
		deepCursor = *pg.Next
		deepPath = "/api/v1/findings?limit=100&cursor=" + url.QueryEscape(deepCursor)
		path = "/api/v1/findings?limit=500&cursor=" + url.QueryEscape(deepCursor)
	}
	if deepPath != "" {
		cases = append(cases, readsCase{name: fmt.Sprintf("findings_deep_page_%d", pages*500), path: deepPath,
			sql: list(db.FindingFilter{Cursor: deepCursor})})
	}
	cases = append(cases,
		readsCase{name: "filter_severity", path: "/api/v1/findings?severity=critical", sql: list(db.FindingFilter{Severities: []string{"critical"}})},
		readsCase{name: "filter_status", path: "/api/v1/findings?status=reopened", sql: list(db.FindingFilter{Statuses: []string{"reopened"}})},
		readsCase{name: "filter_target", path: "/api/v1/findings?target=" + url.QueryEscape(ten.target), sql: list(db.FindingFilter{ScanTarget: ten.target})},
		readsCase{name: "filter_host", path: "/api/v1/findings?host=" + url.QueryEscape(ten.host), sql: list(db.FindingFilter{Host: ten.host})},
		readsCase{name: "filter_scanner", path: "/api/v1/findings?scanner=nikto", sql: list(db.FindingFilter{Scanner: "nikto"})},
		readsCase{name: "filter_cve", path: "/api/v1/findings?cve=" + ten.cve, sql: list(db.FindingFilter{CVE: ten.cve})},
		readsCase{name: "filter_cve_common", path: "/api/v1/findings?cve=CVE-2021-44228", sql: list(db.FindingFilter{CVE: "CVE-2021-44228"})},
		readsCase{name: "filter_kev", path: "/api/v1/findings?kev=true", sql: list(db.FindingFilter{KEV: &t})},
		readsCase{name: "filter_epss_min", path: "/api/v1/findings?epss_min=0.5", sql: list(db.FindingFilter{EPSSMin: &half})},
		readsCase{name: "filter_sla_overdue", path: "/api/v1/findings?sla=overdue", sql: list(db.FindingFilter{SLA: db.SLAOverdue})},
		readsCase{name: "filter_sla_due_soon", path: "/api/v1/findings?sla=due_soon", sql: list(db.FindingFilter{SLA: db.SLADueSoon})},
	)
	for _, s := range []string{"-cvss_score", "-severity", "-first_seen_at", "-epss", "-priority", "last_seen_at"} {
		cases = append(cases, readsCase{name: "sort_" + strings.TrimPrefix(s, "-"), path: "/api/v1/findings?sort=" + s, sql: list(db.FindingFilter{Sort: s})})
	}
	cases = append(cases,
		readsCase{name: "search_common", path: "/api/v1/findings?q=openssl", sql: list(db.FindingFilter{Text: "openssl"})},
		readsCase{name: "search_rare", path: "/api/v1/findings?q=zerologon", sql: list(db.FindingFilter{Text: "zerologon"})},
		readsCase{name: "search_none", path: "/api/v1/findings?q=no-such-thing-here", sql: list(db.FindingFilter{Text: "no-such-thing-here"})},
	)
	return cases
}

// dashboardSQL runs the dashboard's statements for one tenant.
func dashboardSQL(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
	now := time.Now().UTC()
	scope := []uuid.UUID{tenant}
	from, to := now.AddDate(0, 0, -30), now
	if _, err := db.Q.DashboardTenant(ctx, tx, tenant); err != nil {
		return err
	}
	if _, err := db.Q.DashboardOpenByTarget(ctx, tx, dbq.DashboardOpenByTargetParams{TenantIds: scope,
		CriticalDue: now.AddDate(0, 0, -7), HighDue: now.AddDate(0, 0, -30), MediumDue: now.AddDate(0, 0, -90), LowDue: now.AddDate(0, 0, -180)}); err != nil {
		return err
	}
	if _, err := db.Q.DashboardFixed(ctx, tx, dbq.DashboardFixedParams{TenantIds: scope, FromTime: from, ToTime: to}); err != nil {
		return err
	}
	if _, err := db.Q.DashboardScanDiffs(ctx, tx, dbq.DashboardScanDiffsParams{TenantIds: scope, FromTime: from, ToTime: to}); err != nil {
		return err
	}
	if _, err := db.Q.DashboardScans(ctx, tx, dbq.DashboardScansParams{TenantIds: scope, FromTime: from, ToTime: to}); err != nil {
		return err
	}
	if _, err := db.Q.DashboardActiveScans(ctx, tx, tenant); err != nil {
		return err
	}
	_, err := db.Q.UsageSummary(ctx, tx, dbq.UsageSummaryParams{TenantIds: scope, FromTime: from, ToTime: to})
	return err
}

// explainTx runs EXPLAIN of every statement it is given before running the
// statement itself, in the same transaction (role, scope, parameters).
type explainTx struct {
	pgx.Tx
	plans *[]string
}

func (e explainTx) explain(ctx context.Context, sql string, args ...any) {
	rows, err := e.Tx.Query(ctx, "EXPLAIN "+sql, args...)
	if err != nil {
		*e.plans = append(*e.plans, "EXPLAIN failed: "+err.Error())
		return
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		*e.plans = append(*e.plans, "EXPLAIN failed: "+err.Error())
		return
	}
	*e.plans = append(*e.plans, strings.Join(lines, "\n"))
}

func (e explainTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	e.explain(ctx, sql, args...)
	return e.Tx.Query(ctx, sql, args...)
}

func (e explainTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	e.explain(ctx, sql, args...)
	return e.Tx.QueryRow(ctx, sql, args...)
}

func explainCase(b *testing.B, ctx context.Context, d *db.DB, ten readsTenant, c readsCase) []string {
	var plans []string
	err := d.InTx(ctx, db.TenantScope(ten.id), func(ctx context.Context, tx pgx.Tx) error {
		return c.sql(ctx, explainTx{Tx: tx, plans: &plans})
	})
	if err != nil {
		b.Fatalf("%s/%s: %v", ten.name, c.name, err)
	}
	return plans
}

// measureLatencies runs fn conc×each times from conc goroutines.
func measureLatencies(b *testing.B, conc, each int, fn func() (time.Duration, error)) []time.Duration {
	var mu sync.Mutex
	var out []time.Duration
	var first error
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				d, err := fn()
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				out = append(out, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
	slices.Sort(out)
	return out
}

func pct(s []time.Duration, p int) time.Duration {
	i := int(math.Ceil(float64(len(s))*float64(p)/100)) - 1
	return s[max(0, min(i, len(s)-1))]
}

func msf(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/100) / 10 }
func ms(d time.Duration) string   { return strconv.FormatFloat(msf(d), 'f', 1, 64) + " ms" }

func loadAvg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(raw))[:min(3, len(strings.Fields(string(raw))))], " ")
}

// logf prints a bench line whole (b.Logf output of a benchmark is cut short).
func logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func writeReadsJSON(b *testing.B, v any) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "bench", "results")
	buf, _ := json.MarshalIndent(v, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "reads.json"), append(buf, '\n'), 0o644); err != nil {
		b.Logf("bench results not written: %v", err)
	}
}

// ---- the data set ----

var (
	readsSeverities = []string{"critical", "high", "medium", "low", "info"}
	readsSevWeights = []int{5, 20, 35, 25, 15}
	readsStatuses   = []string{"new", "open", "fixed", "reopened", "false_positive", "accepted_risk"}
	readsStWeights  = []int{20, 50, 20, 3, 4, 3}
	readsScanners   = []string{"trivy", "nuclei", "nmap", "zap", "grype", "nikto"}
	readsScWeights  = []int{35, 25, 15, 12, 10, 3}
	readsSLADays    = map[string]int{"critical": 7, "high": 30, "medium": 90, "low": 180}
	readsPackages   = []string{"openssl", "glibc", "zlib", "curl", "libxml2", "log4j-core", "jackson-databind", "spring-core",
		"lodash", "express", "django", "flask", "requests", "urllib3", "nginx", "apache2", "openssh", "sudo", "bash",
		"systemd", "libpng", "libjpeg-turbo", "sqlite", "postgresql-libs", "busybox", "musl", "nodejs", "python3", "perl", "git"}
	readsChecks = []string{"Missing security header: X-Frame-Options", "Missing security header: Content-Security-Policy",
		"TLS certificate expires within 30 days", "Weak TLS cipher suites offered", "Open port %d/tcp",
		"Directory listing enabled", "Server version disclosed in banner", "Cookie without Secure flag",
		"Outdated jQuery library", "Exposed .git directory", "Default credentials accepted", "SMB signing not required"}
)

func pick(r *rand.Rand, vals []string, weights []int) string {
	sum := 0
	for _, w := range weights {
		sum += w
	}
	n := r.IntN(sum)
	for i, w := range weights {
		if n < w {
			return vals[i]
		}
		n -= w
	}
	return vals[len(vals)-1]
}

var readsColumns = []string{"id", "tenant_id", "fingerprint", "title", "severity", "status", "cves", "cvss_score", "component",
	"component_version", "host", "port", "protocol", "target", "scanner", "rule_id", "description", "first_seen_at",
	"last_seen_at", "last_scan_id", "scan_target", "reported_by", "first_scan_id", "fixed_at", "status_changed_at", "kev",
	"epss", "epss_percentile", "priority", "sla_due_at", "reporters"}

// readsScan is one scan of a tenant: its findings were first seen when it ran.
type readsScan struct {
	id     uuid.UUID
	target string
	at     time.Time
}

// tenantRows generates a tenant's n findings (and scans) as a scan history
// would leave them: targets scanned repeatedly over a year, every finding
// first seen by one scan, a realistic spread of severities, statuses,
// scanners, CVEs (a few very common), KEV, EPSS and deadlines.
func tenantRows(seed uint64, tenant uuid.UUID, n int, now time.Time) (scans []readsScan, rows func(yield func([]any) bool)) {
	r := rand.New(rand.NewPCG(seed, 7))
	nTargets := max(2, n/400)
	tgts := make([]string, nTargets)
	for i := range tgts {
		raw := fmt.Sprintf("10.%d.%d.%d", (seed>>8)%250, i/250, i%250+1)
		if i%3 == 0 {
			raw = fmt.Sprintf("app%d.t%d.example.com", i, seed)
		}
		t, err := targets.Parse(raw)
		if err != nil {
			panic(err)
		}
		tgts[i] = t.String()
	}
	nScans := max(1, n/100)
	scans = make([]readsScan, nScans)
	for i := range scans {
		scans[i] = readsScan{id: uuid.New(), target: tgts[i%nTargets], at: now.Add(-time.Duration(r.Int64N(int64(365 * 24 * time.Hour))))}
	}
	rows = func(yield func([]any) bool) {
		r := rand.New(rand.NewPCG(seed, 8)) // the same rows on every pass
		for i := range n {
			sc := scans[i%nScans]
			sev := pick(r, readsSeverities, readsSevWeights)
			st := pick(r, readsStatuses, readsStWeights)
			scanner := pick(r, readsScanners, readsScWeights)
			var cves []string
			var title, component, version, desc string
			port, proto := 0, ""
			var epss, epssPct *float32
			kev := false
			if r.IntN(10) < 6 {
				component = readsPackages[min(r.IntN(len(readsPackages)), r.IntN(len(readsPackages)))]
				version = fmt.Sprintf("%d.%d.%d", r.IntN(4), r.IntN(20), r.IntN(30))
				cve := fmt.Sprintf("CVE-20%02d-%05d", 15+r.IntN(11), r.IntN(r.IntN(40000)+1))
				if r.IntN(200) == 0 {
					cve = "CVE-2021-44228"
				}
				if r.IntN(5000) == 0 {
					cve, component = "CVE-2020-1472", "samba"
					desc = "Zerologon: netlogon elevation of privilege. "
				}
				cves = []string{cve}
				title = cve + " in " + component
				desc += fmt.Sprintf("The %s package before %s.%d allows remote attackers to cause a denial of service or possibly execute arbitrary code via crafted input.", component, version, r.IntN(9)+1)
				e := float32(math.Pow(r.Float64(), 5))
				ep := float32(math.Sqrt(float64(e)))
				epss, epssPct = &e, &ep
				kev = r.IntN(25) == 0
			} else {
				title = readsChecks[r.IntN(len(readsChecks))]
				if strings.Contains(title, "%d") {
					port = []int{21, 22, 25, 80, 443, 445, 3306, 5432, 6379, 8080}[r.IntN(10)]
					title, proto = fmt.Sprintf(title, port), "tcp"
				}
				desc = "The scanner observed " + strings.ToLower(title) + " on this host; see the references for remediation."
			}
			if cves == nil {
				cves = []string{}
			}
			cvss := map[string]float64{"critical": 9, "high": 7, "medium": 4, "low": 0.1, "info": 0}[sev] + math.Round(r.Float64()*9)/10
			first := sc.at
			last := first.Add(time.Duration(r.Int64N(int64(now.Sub(first)) + 1)))
			changed := first
			var fixedAt *time.Time
			if st == "fixed" {
				fixedAt, changed = &last, last
			}
			var slaDue *time.Time
			if d, ok := readsSLADays[sev]; ok {
				if kev {
					d = readsSLADays["critical"]
				}
				t := first.Add(time.Duration(d) * 24 * time.Hour)
				slaDue = &t
			}
			var prio *int16
			if r.IntN(10) > 0 {
				v := int16(r.IntN(101))
				prio = &v
			}
			host := strings.SplitN(sc.target, ":", 2)[0]
			reporters := fmt.Sprintf(`{%q: {"severity": %q, "rule_id": "r%d", "last_scan_id": %q}}`, scanner, sev, i%500, sc.id)
			if !yield([]any{uuid.New(), tenant, fmt.Sprintf("fp-%d", i), title, sev, st, cves, cvss, component, version,
				host, port, proto, sc.target, scanner, fmt.Sprintf("r%d", i%500), desc, first, last, sc.id, sc.target, scanner,
				sc.id, fixedAt, changed, kev, epss, epssPct, prio, slaDue, reporters}) {
				return
			}
		}
	}
	return scans, rows
}

// loadReads creates the tenants, their API keys and their findings.
func loadReads(b *testing.B, ctx context.Context, p *platform, super *pgx.Conn, total int) readsEnv {
	start := time.Now()
	now := time.Now().UTC()
	mk := func(name, tier string, n int) readsTenant {
		ten, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: name, Tier: tier})
		if err != nil {
			b.Fatal(err)
		}
		key, _, err := bootstrap.CreateAPIKey(ctx, p.db, ten.Slug, auth.RoleClientAnalyst, nil, "reads")
		if err != nil {
			b.Fatal(err)
		}
		return readsTenant{name: name, id: ten.ID, key: key, findings: n}
	}
	big := mk("big", "enterprise", total/5)
	small := mk("small", "pro", 100)
	const others = 998
	var ids []uuid.UUID
	rows, err := super.Query(ctx, `INSERT INTO tenants (slug, name, tier, status)
		SELECT 'reads-' || g, 'Reads tenant ' || g, 'pro', 'active' FROM generate_series(1, $1) g RETURNING id`, others)
	if err != nil {
		b.Fatal(err)
	}
	if ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil {
		b.Fatal(err)
	}
	type spec struct {
		id uuid.UUID
		n  int
	}
	specs := []spec{{big.id, big.findings}, {small.id, small.findings}}
	rest := total - big.findings - small.findings
	r := rand.New(rand.NewPCG(1, 2))
	left := rest
	for i, id := range ids {
		n := rest / others
		if i == len(ids)-1 {
			n = left
		} else {
			n = n/2 + r.IntN(n+1) // ±50 %
			n = min(n, left-(len(ids)-1-i))
		}
		left -= n
		specs = append(specs, spec{id, n})
	}
	var allScans [][]any
	var gens []func(yield func([]any) bool)
	for i, s := range specs {
		scans, gen := tenantRows(uint64(i+1), s.id, s.n, now)
		gens = append(gens, gen)
		for _, sc := range scans {
			allScans = append(allScans, []any{sc.id, s.id, sc.target, []string{"trivy"}, "completed", "scan/" + sc.id.String(),
				sc.at, sc.at, sc.at.Add(2 * time.Minute), 100})
		}
		if i < 2 {
			// Pick the filters' values from the tenant's own rows.
			t := &big
			if i == 1 {
				t = &small
			}
			t.target = scans[0].target
			t.host = strings.SplitN(scans[0].target, ":", 2)[0]
			for row := range gen {
				if c := row[6].([]string); len(c) > 0 && row[13] == t.target {
					t.cve = c[0]
					break
				}
			}
			if t.cve == "" {
				t.cve = "CVE-2021-44228"
			}
		}
	}
	if _, err := super.CopyFrom(ctx, pgx.Identifier{"scans"},
		[]string{"id", "tenant_id", "target", "scanners", "status", "workflow_id", "created_at", "started_at", "finished_at", "progress"},
		pgx.CopyFromRows(allScans)); err != nil {
		b.Fatal(err)
	}
	next, stop := iterPull(gens)
	defer stop()
	n, err := super.CopyFrom(ctx, pgx.Identifier{"findings"}, readsColumns, next)
	if err != nil {
		b.Fatal(err)
	}
	if int(n) != total {
		b.Fatalf("copied %d findings, want %d", n, total)
	}
	if _, err := super.Exec(ctx, "VACUUM ANALYZE findings, scans, tenants"); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	logf("reads: loaded %d findings of %d tenants (big %d, small %d) by COPY and analysed in %s",
		total, len(specs), big.findings, small.findings, el.Round(time.Millisecond))
	return readsEnv{big: big, small: small, tenants: len(specs), loadSeconds: el.Seconds()}
}

// copySource is a pgx.CopyFromSource over several row generators in turn.
type copySource struct {
	gens []func(yield func([]any) bool)
	ch   chan []any
	done chan struct{}
	cur  []any
}

func iterPull(gens []func(yield func([]any) bool)) (*copySource, func()) {
	s := &copySource{gens: gens, ch: make(chan []any, 1024), done: make(chan struct{})}
	go func() {
		defer close(s.ch)
		for _, g := range gens {
			for row := range g {
				select {
				case s.ch <- row:
				case <-s.done:
					return
				}
			}
		}
	}()
	return s, func() { close(s.done) }
}

func (s *copySource) Next() bool {
	row, ok := <-s.ch
	s.cur = row
	return ok
}
func (s *copySource) Values() ([]any, error) { return s.cur, nil }
func (s *copySource) Err() error             { return nil }
