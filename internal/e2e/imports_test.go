package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/api"
	"github.com/secureops/secureops/internal/db"
)

// streamedUpload posts an import whose report is head followed by size
// bytes of padding written 1 MiB at a time, so the test itself holds almost
// nothing. hold, if not nil, is waited on before the form is finished; abort
// makes the client give up mid-body instead.
type streamedUpload struct {
	scanner string
	target  string
	head    []byte
	pad     int
	hold    <-chan struct{}
	abort   bool
}

func (p *platform) postStreamed(t *testing.T, u streamedUpload) (int, map[string]any, http.Header) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		_ = mw.WriteField("scanner", u.scanner)
		_ = mw.WriteField("target", u.target)
		fw, _ := mw.CreateFormFile("file", "big.report")
		if _, err := fw.Write(u.head); err != nil {
			pw.CloseWithError(err)
			return
		}
		chunk := bytes.Repeat([]byte(" "), 1<<20)
		for left := u.pad; left > 0; left -= len(chunk) {
			if _, err := fw.Write(chunk[:min(left, len(chunk))]); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		if u.hold != nil {
			<-u.hold
		}
		if u.abort {
			pw.CloseWithError(io.ErrUnexpectedEOF)
			return
		}
		_ = mw.Close()
		_ = pw.Close()
	}()
	req, _ := http.NewRequest("POST", p.api.URL+"/api/v1/scans/import", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+p.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if u.abort {
			return 0, nil, nil
		}
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

func (p *platform) countChunks(t *testing.T) int {
	t.Helper()
	var n int
	if err := p.db.InTx(context.Background(), db.TenantScope(p.tenant), func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM scan_report_chunks").Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// Issue 19 item 9: a Content-Length over the limit answers 413 before the
// body is read (the client here never sends it).
func TestImportRefusedOnContentLengthBeforeReading(t *testing.T) {
	p := startWith(t, options{noWorkers: true})
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("POST", p.api.URL+"/api/v1/scans/import", pr)
	req.ContentLength = 200 << 20
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	req.Header.Set("Authorization", "Bearer "+p.key)
	c := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("no answer without the body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("200 MB announced: %d, want 413", resp.StatusCode)
	}
	t.Logf("413 after %v", time.Since(start))
}

// Issue 19 item 9: two uploads of a tenant at once; a third answers 429 with
// Retry-After, and an upload abandoned mid-body leaves no chunks behind.
func TestImportConcurrencyLimitAndAbandonedUploads(t *testing.T) {
	p := startWith(t, options{noWorkers: true})
	hold := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.postStreamed(t, streamedUpload{scanner: "generic", target: "image:app", head: []byte("["), pad: 3 << 20, hold: hold, abort: true})
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body, hdr := p.postStreamed(t, streamedUpload{scanner: "generic", target: "image:app", head: []byte("[]")})
		if code == http.StatusTooManyRequests {
			if hdr.Get("Retry-After") == "" || hdr.Get("Content-Type") != "application/problem+json" || !strings.Contains(body["detail"].(string), "imports") {
				t.Errorf("429 without Retry-After or problem JSON: %v %v", hdr, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("third concurrent upload: %d %v, want 429", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Both held uploads have stored chunks by now; abandoning them drops them.
	for p.countChunks(t) < 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	close(hold)
	wg.Wait()
	for n := p.countChunks(t); n != 0; n = p.countChunks(t) {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("%d chunks of abandoned uploads left", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The places are free again.
	if code, body, _ := p.postStreamed(t, streamedUpload{scanner: "trivy", target: "image:app", head: fixture(t, "trivy/scheme_2_many_vulns.json")}); code != http.StatusAccepted {
		t.Fatalf("upload after the others ended: %d %v", code, body)
	}
}

// Issue 19 item 9: a report over one chunk is stored in chunks, checked for
// its kind of document here and parsed by the worker.
func TestImportLargeReportParsedByWorker(t *testing.T) {
	p := start(t)
	report := fixture(t, "trivy/scheme_2_many_vulns.json")
	code, body, _ := p.postStreamed(t, streamedUpload{scanner: "trivy", target: "image:registry.acme.test/big:1", head: report, pad: 3 << 20})
	if code != http.StatusAccepted || body["findings_in_report"] != nil || body["bytes"] != float64(len(report)+3<<20) {
		t.Fatalf("large import: %d %v", code, body)
	}
	sc := p.waitScan(t, body["id"].(string))
	if sc["status"] != "completed" || sc["findings_total"] == float64(0) {
		t.Fatalf("large import's scan: %v", sc)
	}
	// Cut short: accepted, then the worker fails the scan with the reason.
	code, body, _ = p.postStreamed(t, streamedUpload{scanner: "trivy", target: "image:registry.acme.test/big:2", head: []byte(`{"Results": [`), pad: 2 << 20})
	if code != http.StatusAccepted {
		t.Fatalf("large malformed import: %d %v", code, body)
	}
	if sc := p.waitScan(t, body["id"].(string)); sc["status"] != "failed" || !strings.Contains(strings.ToLower(sc["error"].(string)), "trivy") {
		t.Fatalf("large malformed import's scan: %v", sc)
	}
	// The wrong kind of document is refused before any scan exists.
	code, body, _ = p.postStreamed(t, streamedUpload{scanner: "nmap", target: "127.0.0.1", head: report, pad: 2 << 20})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body["detail"].(string), "not XML") {
		t.Fatalf("JSON as nmap: %d %v", code, body)
	}
}

// Issue 19 item 9: four parallel 32 MB uploads raise the API's heap by a few
// chunks, not by the reports (reading them whole took over 128 MB).
func TestImportMemoryBoundedWithParallelLargeUploads(t *testing.T) {
	p := startWith(t, options{noWorkers: true, server: func(s *api.Server) {
		s.ImportLimits = api.ImportLimits{PerTenant: 4, Total: 4}
	}})
	defer debug.SetGCPercent(debug.SetGCPercent(10)) // the heap tracks what is live
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
		}
	}()
	const size = 32 << 20
	var wg sync.WaitGroup
	codes := make([]int, 4)
	start := time.Now()
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = p.postStreamed(t, streamedUpload{scanner: "generic", target: "image:app", head: []byte("["), pad: size})
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("upload %d: %d", i, c)
		}
	}
	grew := int64(peak.Load()) - int64(base)
	t.Logf("4 parallel uploads of %d MiB in %v: heap peak %d MiB over a base of %d MiB", size>>20, time.Since(start).Round(time.Millisecond), grew>>20, base>>20)
	if grew > 48<<20 {
		t.Errorf("the heap grew by %d MiB for 4 uploads of %d MiB: uploads are buffered", grew>>20, size>>20)
	}
}
