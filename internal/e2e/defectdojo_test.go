package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/secureops/secureops/activities/defectdojo"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/dojo"
	"github.com/secureops/secureops/internal/parsers"
)

// dojoStandIn stands in for DefectDojo: it checks each request the way the real
// API would read it and keeps the import history a real instance keeps.
type dojoStandIn struct {
	t       *testing.T
	mu      sync.Mutex
	imports []map[string]string // form fields of each reimport
	files   [][]byte
	history map[string]int64 // build_id → test
}

func (f *dojoStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Token dojo-token" {
		http.Error(w, `{"detail":"Invalid token."}`, http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v2/test_imports/":
		var results []map[string]any
		for b, test := range f.history {
			if strings.Contains(b, r.URL.Query().Get("build_id")) {
				results = append(results, map[string]any{"id": len(results) + 1, "test": test, "build_id": b})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"count": len(results), "results": results})
	case r.Method == http.MethodPost && r.URL.Path == "/api/v2/reimport-scan/":
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			f.t.Errorf("reimport body: %v", err)
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		fields := map[string]string{}
		for k, v := range r.MultipartForm.Value {
			fields[k] = v[0]
		}
		file, _, err := r.FormFile("file")
		if err != nil {
			f.t.Errorf("reimport without file: %v", err)
			http.Error(w, "no file", http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(file)
		f.imports = append(f.imports, fields)
		f.files = append(f.files, b)
		test := int64(700 + len(f.imports))
		f.history[fields["build_id"]] = test
		_ = json.NewEncoder(w).Encode(map[string]any{"test": test, "test_id": test, "scan_type": fields["scan_type"]})
	default:
		f.t.Errorf("unexpected DefectDojo call %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

func (f *dojoStandIn) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.imports)
}

// A completed scan lands in the tenant's DefectDojo product once per scanner,
// with our native findings as Generic Findings Import — and not again when
// the activity repeats or an operator resets the scan.
func TestDefectDojoReimportExactlyOnce(t *testing.T) {
	standIn := &dojoStandIn{t: t, history: map[string]int64{}}
	dd := httptest.NewServer(standIn)
	defer dd.Close()
	p := startWith(t, options{configure: func(c *config.Config) {
		c.DefectDojoURL, c.DefectDojoToken = dd.URL, "dojo-token"
	}})
	ctx := context.Background()
	err := p.db.InTx(ctx, db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE tenants SET defectdojo_product_id = 42 WHERE id = $1", p.tenant)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Server", "nginx/1.22.1") // nmap -sV recognises it at once
		_, _ = w.Write([]byte("ok"))
	}))
	defer web.Close()
	target := fmt.Sprintf("127.0.0.1:%d", web.Listener.Addr().(*net.TCPAddr).Port)
	code, body := p.do(t, "POST", "/api/v1/scans", "application/json", fmt.Sprintf(`{"target":%q,"scanners":["nmap","secureops"]}`, target))
	if code != http.StatusAccepted {
		t.Fatalf("scan: %d %v", code, body)
	}
	id := body["id"].(string)
	if sc := p.waitScan(t, id); sc["status"] != "completed" {
		t.Fatalf("scan %v", sc)
	}
	deadline := time.Now().Add(30 * time.Second)
	for standIn.count() < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := standIn.count(); n != 2 {
		t.Fatalf("%d re-imports, want one per scanner (2)", n)
	}
	byType := map[string]map[string]string{}
	for i, f := range standIn.imports {
		byType[f["scan_type"]] = f
		if f["product_name"] != "Acme Corp Security" || f["engagement_name"] != "SecureOps" || f["auto_create_context"] != "true" ||
			f["close_old_findings"] != "true" || !strings.HasPrefix(f["test_title"], "secureops/"+target+"/") ||
			!strings.HasPrefix(f["build_id"], "secureops-scan/"+id+"/") {
			t.Errorf("reimport %d fields %v", i, f)
		}
		if f["scan_type"] == "Generic Findings Import" {
			fs, err := parsers.Parse("generic", standIn.files[i])
			if err != nil || len(fs) == 0 {
				t.Errorf("native findings as Generic Findings Import: %d findings, %v", len(fs), err)
			}
		}
	}
	if byType["Nmap Scan"] == nil || byType["Generic Findings Import"] == nil {
		t.Errorf("scan types %v", byType)
	}

	// The activity again (a retry): our record answers, nothing is sent.
	acts := &defectdojo.Activities{DB: p.db, Client: dojo.New(dd.URL, "dojo-token", nil)}
	r, err := acts.Reimport(ctx, scan.ReimportInput{TenantID: p.tenant, ScanID: uuid.MustParse(id), Scanner: "nmap"})
	if err != nil || !r.Already || r.TestID == 0 {
		t.Errorf("repeated re-import: %+v %v", r, err)
	}
	if n := standIn.count(); n != 2 {
		t.Errorf("%d re-imports after a repeated activity, want still 2", n)
	}
	// A reset of the scan to its first workflow task re-runs everything.
	desc, err := p.temporal.DescribeWorkflowExecution(ctx, "scan/"+id, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.temporal.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: desc.WorkflowExecutionInfo.Execution,
		Reason: "operator reset in a test", WorkflowTaskFinishEventId: 3, RequestId: "reset-" + id,
	})
	if err != nil {
		t.Fatal(err)
	}
	run := p.temporal.GetWorkflow(ctx, "scan/"+id, "")
	if err := run.Get(ctx, nil); err != nil {
		t.Fatalf("reset run: %v", err)
	}
	time.Sleep(2 * time.Second)
	if n := standIn.count(); n != 2 {
		t.Errorf("%d re-imports after a reset, want still 2", n)
	}
	var recorded int
	_ = p.db.InTx(ctx, db.TenantScope(p.tenant), func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM scan_defectdojo_imports WHERE scan_id = $1", id).Scan(&recorded)
	})
	if recorded != 2 {
		t.Errorf("%d imports recorded on the scan, want 2", recorded)
	}
	_, sc := p.do(t, "GET", "/api/v1/scans/"+id, "", "")
	if tests, _ := sc["defectdojo_tests"].(map[string]any); len(tests) != 2 || tests["nmap"] == nil || tests["secureops"] == nil {
		t.Errorf("scan's DefectDojo tests %v", sc["defectdojo_tests"])
	}
}

// Issue 19 item 9: an import large enough to be stored in chunks reaches
// DefectDojo whole.
func TestDefectDojoGetsAChunkedImportWhole(t *testing.T) {
	standIn := &dojoStandIn{t: t, history: map[string]int64{}}
	dd := httptest.NewServer(standIn)
	defer dd.Close()
	p := startWith(t, options{configure: func(c *config.Config) {
		c.DefectDojoURL, c.DefectDojoToken = dd.URL, "dojo-token"
	}})
	err := p.db.InTx(context.Background(), db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE tenants SET defectdojo_product_id = 42 WHERE id = $1", p.tenant)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	report := fixture(t, "trivy/scheme_2_many_vulns.json")
	code, body, _ := p.postStreamed(t, streamedUpload{scanner: "trivy", target: "image:registry.acme.test/dojo:1", head: report, pad: 3 << 20})
	if code != http.StatusAccepted {
		t.Fatalf("import: %d %v", code, body)
	}
	if sc := p.waitScan(t, body["id"].(string)); sc["status"] != "completed" {
		t.Fatalf("scan %v", sc)
	}
	deadline := time.Now().Add(30 * time.Second)
	for standIn.count() < 1 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	standIn.mu.Lock()
	defer standIn.mu.Unlock()
	if len(standIn.files) != 1 || len(standIn.files[0]) != len(report)+3<<20 || !bytes.HasPrefix(standIn.files[0], report) {
		n := -1
		if len(standIn.files) > 0 {
			n = len(standIn.files[0])
		}
		t.Fatalf("%d re-imports, the first of %d bytes; want one of the whole %d-byte report", len(standIn.files), n, len(report)+3<<20)
	}
}
