package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/secureops/secureops/internal/db"
)

// benchTrivyReport is a Trivy JSON report of n distinct vulnerabilities of
// one image (the shape of the chaos suite's).
func benchTrivyReport(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"SchemaVersion":2,"ArtifactName":"registry.bench.test/app:1.0","ArtifactType":"container_image","Results":[{"Target":"registry.bench.test/app:1.0 (debian 12)","Class":"os-pkgs","Type":"debian","Vulnerabilities":[`)
	sev := []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"}
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"VulnerabilityID":"CVE-2099-%d","PkgName":"pkg%d","InstalledVersion":"1.0.%d","FixedVersion":"1.1","Severity":"%s","Title":"bench vulnerability %d","Description":"A vulnerability in a package that an attacker can exploit remotely."}`,
			100000+i, i, i%97, sev[i%4], i)
	}
	b.WriteString(`]}]}`)
	return b.Bytes()
}

// postImport uploads report as an import, streamed from the shared slice
// (the client holds no copy), and returns the scan's workflow id.
func postImport(hc *http.Client, base, key, target string, report []byte) (string, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		_ = mw.WriteField("scanner", "trivy")
		_ = mw.WriteField("target", target)
		fw, _ := mw.CreateFormFile("file", "trivy.json")
		if _, err := fw.Write(report); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(mw.Close())
	}()
	req, _ := http.NewRequest("POST", base+"/api/v1/scans/import", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		WorkflowID string `json:"workflow_id"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &out) != nil {
		return "", fmt.Errorf("import: %d %s", resp.StatusCode, raw)
	}
	return out.WorkflowID, nil
}

// BenchmarkImports measures issue 16's import throughput: 8 tenants each
// upload a 13,000-finding Trivy report at once, through the API (streamed
// into chunks), parsed and ingested by the workers; findings/s from the
// first byte sent to the last scan completed, beside one import alone on
// the same platform, and the process's peak RSS and Go heap meanwhile (API,
// workers and the embedded Temporal server are one process here). Results
// go to bench/results/imports.json.
func BenchmarkImports(b *testing.B) {
	for range b.N {
		benchImports(b)
	}
}

const importTenants, importFindings = 8, 13000

func benchImports(b *testing.B) {
	ctx := context.Background()
	const tenants, perReport = importTenants, importFindings
	report := benchTrivyReport(perReport)
	api := benchImportUploads(b, report)
	p := startWith(b, options{})
	keys := make([]string, tenants+1) // the last imports alone
	for i := range keys {
		_, keys[i] = benchTenant(b, p, fmt.Sprintf("Import Bench %d", i), "pro")
	}
	hc := benchClient()
	run := func(i int, image string) (time.Duration, error) {
		t0 := time.Now()
		wid, err := postImport(hc, p.api.URL, keys[i], "image:registry.bench.test/"+image, report)
		if err != nil {
			return 0, err
		}
		var res struct {
			Status   string `json:"status"`
			Findings int    `json:"findings"`
		}
		if err := p.temporal.GetWorkflow(ctx, wid, "").Get(ctx, &res); err != nil {
			return 0, err
		}
		if res.Status != "completed" || res.Findings != perReport {
			return 0, fmt.Errorf("import %s: %+v, want %d findings", wid, res, perReport)
		}
		return time.Since(t0), nil
	}
	// One import alone (a tenant's first import of the report: every finding
	// is new), the reference for the parallel run.
	alone, err := run(tenants, "alone:1")
	if err != nil {
		b.Fatal(err)
	}
	ms := startMemSampler()
	began := time.Now()
	durs := make([]time.Duration, tenants)
	errs := make([]error, tenants)
	var wg sync.WaitGroup
	for i := range tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			durs[i], errs[i] = run(i, "parallel:1")
		}()
	}
	wg.Wait()
	el := time.Since(began)
	mem := ms.end()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	var stored int
	if err := p.db.InTx(ctx, db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM findings").Scan(&stored)
	}); err != nil {
		b.Fatal(err)
	}
	if want := (tenants + 1) * perReport; stored != want {
		b.Errorf("%d findings stored, want %d", stored, want)
	}
	rate := float64(tenants*perReport) / el.Seconds()
	aloneRate := float64(perReport) / alone.Seconds()
	ms32 := func(d time.Duration) int64 { return d.Milliseconds() }
	each := make([]int64, tenants)
	for i, d := range durs {
		each[i] = ms32(d)
	}
	targets := []targetLine{
		printTarget(b, targetLine{Name: "imports_8x13k_api_upload_peak_heap", Figure: api.PeakHeapMiB, Floor: api.BaseHeapMiB, Ratio: api.PeakHeapMiB / api.BaseHeapMiB, Unit: "MiB",
			Target: fmt.Sprintf("growth < the 8 reports (%.0f MiB): streamed", float64(tenants*len(report))/(1<<20)),
			Met:    (api.PeakHeapMiB-api.BaseHeapMiB)*(1<<20) < float64(tenants*len(report))}),
		printTarget(b, targetLine{Name: "imports_8x13k_api_upload_peak_rss", Figure: api.PeakRSSMiB, Floor: api.BaseRSSMiB, Ratio: api.PeakRSSMiB / api.BaseRSSMiB, Unit: "MiB",
			Target: "reported", Met: true}),
		printTarget(b, targetLine{Name: "imports_8x13k_findings_per_s", Figure: rate, Floor: aloneRate, Ratio: rate / aloneRate, Unit: "findings/s",
			Target: "reported; floor is one import alone", Met: true}),
		printTarget(b, targetLine{Name: "imports_8x13k_pipeline_peak_heap", Figure: mem.PeakHeapMiB, Floor: mem.BaseHeapMiB, Ratio: mem.PeakHeapMiB / mem.BaseHeapMiB, Unit: "MiB",
			Target: "reported (API + workers parsing + Temporal)", Met: true}),
		printTarget(b, targetLine{Name: "imports_8x13k_pipeline_peak_rss", Figure: mem.PeakRSSMiB, Floor: mem.BaseRSSMiB, Ratio: mem.PeakRSSMiB / mem.BaseRSSMiB, Unit: "MiB",
			Target: "reported", Met: true}),
	}
	b.ReportMetric(rate, "findings/s")
	b.ReportMetric(mem.PeakHeapMiB, "peak_heap_MiB")
	writeResults(b, "imports.json", map[string]any{
		"description": "8 tenants import a 13,000-finding Trivy report each at once through POST /api/v1/scans/import (streamed to chunks, parsed and ingested by the workers); " +
			"findings/s from the first byte sent to the last workflow completed; one import alone beforehand on the same platform; memory_api_uploads: the 8 uploads through an API whose workers do not run (the API's own memory, sampled with GOGC=10 so the heap is what is live); memory_pipeline: the test process during the parallel run (API + workers + embedded Temporal server)",
		"tenants": tenants, "findings_per_report": perReport, "report_bytes": len(report),
		"seconds": el.Seconds(), "findings_per_second": rate, "each_ms": each,
		"alone_seconds": alone.Seconds(), "alone_findings_per_second": aloneRate,
		"memory_api_uploads": api, "memory_pipeline": mem, "targets": targets, "go": runtime.Version(), "cpus": runtime.NumCPU(),
	})
}

// benchImportUploads sends the 8 uploads at once to an API whose workers do
// not run: the process's memory is then the API's (and the idle Temporal
// server's), the reports streamed into chunks.
func benchImportUploads(b *testing.B, report []byte) memFigures {
	p := startWith(b, options{noWorkers: true})
	keys := make([]string, importTenants)
	for i := range keys {
		_, keys[i] = benchTenant(b, p, fmt.Sprintf("Upload Bench %d", i), "pro")
	}
	hc := benchClient()
	// The heap tracks what is live, not garbage awaiting the next cycle (as
	// in TestImportMemoryBoundedWithParallelLargeUploads).
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	ms := startMemSampler()
	var wg sync.WaitGroup
	errs := make([]error, importTenants)
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = postImport(hc, p.api.URL, keys[i], "image:registry.bench.test/upload:1", report)
		}()
	}
	wg.Wait()
	mem := ms.end()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("API alone, 8 uploads: %+v", mem)
	return mem
}
