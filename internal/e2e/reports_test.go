package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/llmtriage"
)

// waitReport polls a report until it is ready (or failed).
func (p *platform) waitReport(t *testing.T, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, r := p.do(t, "GET", "/api/v1/reports/"+id, "", "")
		if code != http.StatusOK {
			t.Fatalf("get report: %d %v", code, r)
		}
		if s := r["status"]; s == "ready" || s == "failed" {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("report did not finish: %v", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// download fetches a report's rendering.
func (p *platform) download(t *testing.T, path string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", p.api.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+p.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func pdfToText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("SECUREOPS_REQUIRE_TOOLS") == "1" {
			t.Fatal("pdftotext (poppler-utils) is missing: scripts/install-deps.sh installs it")
		}
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	f := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", f, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func count(m map[string]any, k string) int {
	v, _ := m[k].(float64)
	return int(v)
}

// Import a Trivy report, ask for its technical report, wait for it and read
// its PDF: the text holds the severity counts the API gives, which are the
// scan's. A period report covers the same findings; feedback is stored and
// counted.
func TestReportOfAnImportEndToEnd(t *testing.T) {
	p := start(t)
	code, body := p.upload(t, map[string]string{"scanner": "trivy", "target": "image:registry.acme.test/shop:1.0"}, fixture(t, "trivy/scheme_2_many_vulns.json"))
	if code != http.StatusAccepted {
		t.Fatalf("import: %d %v", code, body)
	}
	sc := p.waitScan(t, body["id"].(string))
	if sc["status"] != "completed" {
		t.Fatalf("import %v", sc)
	}
	scanCounts := sc["counts"].(map[string]any)

	// Refused: both scopes, neither, a bad kind.
	for _, bad := range []string{
		fmt.Sprintf(`{"scan_id":%q,"period":{"from":"2026-01-01T00:00:00Z","to":"2026-02-01T00:00:00Z"}}`, sc["id"]),
		`{"kind":"executive"}`, fmt.Sprintf(`{"scan_id":%q,"kind":"poem"}`, sc["id"]),
		`{"period":{"from":"2026-02-01T00:00:00Z","to":"2026-01-01T00:00:00Z"}}`,
	} {
		if code, b := p.do(t, "POST", "/api/v1/reports", "application/json", bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d %v, want 400", bad, code, b)
		}
	}
	if code, _ := p.do(t, "POST", "/api/v1/reports", "application/json", `{"scan_id":"4a7c1e93-2b5d-4f80-9e6a-1c3d5b7f9a02"}`); code != http.StatusNotFound {
		t.Errorf("another scan: %d, want 404", code)
	}

	// The tenant's logo (uploaded through the API in TestTenantLogoUpload)
	// is on its reports.
	fixtures{t: t, p: p}.logo(p.tenant)

	code, created := p.do(t, "POST", "/api/v1/reports", "application/json", fmt.Sprintf(`{"scan_id":%q,"kind":"technical"}`, sc["id"]))
	if code != http.StatusAccepted || created["status"] != "pending" || created["workflow_id"] != "report/"+created["id"].(string) {
		t.Fatalf("create report: %d %v", code, created)
	}
	id := created["id"].(string)
	rep := p.waitReport(t, id)
	if rep["status"] != "ready" || rep["prose_source"] != "rules" {
		t.Fatalf("report %v", rep)
	}
	recordHistory(t, p.temporal, "report/"+id, "../../workflows/reportflow/testdata/report_scan.json")
	facts := rep["facts"].(map[string]any)
	bySev := facts["by_severity"].(map[string]any)
	openBySev := facts["open_by_severity"].(map[string]any)
	total := 0
	for _, s := range []string{"critical", "high", "medium", "low", "info"} {
		if count(bySev, s) != count(scanCounts, s) {
			t.Errorf("%s: report %d, scan %d", s, count(bySev, s), count(scanCounts, s))
		}
		total += count(bySev, s)
	}
	if total == 0 || count(facts, "total") != total || count(facts, "scans_run") != 1 || len(facts["top"].([]any)) == 0 {
		t.Fatalf("facts %v", facts)
	}

	code, h, pdf := p.download(t, "/api/v1/reports/"+id+".pdf")
	if code != http.StatusOK || h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(pdf), "%PDF-") {
		t.Fatalf("pdf: %d %v %.8q", code, h, pdf)
	}
	text := pdfToText(t, pdf)
	for _, s := range []string{"critical", "high", "medium", "low", "info"} {
		re := fmt.Sprintf(`(?m)^\s*%s\s+%d\s+%d\s*$`, strings.ToUpper(s[:1])+s[1:], count(bySev, s), count(openBySev, s))
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("pdf text lacks %s:\n%s", re, text)
		}
	}
	if !regexp.MustCompile(fmt.Sprintf(`Total\s+%d\s+%d`, total, count(facts, "open"))).MatchString(text) || !strings.Contains(text, "Technical security report") {
		t.Errorf("pdf text:\n%s", text)
	}

	if n := bytes.Count(pdf, []byte("/Subtype /Image")); n != 2 {
		t.Errorf("the PDF has %d images, want the tenant's logo and the chart", n)
	}

	code, h, html := p.download(t, "/api/v1/reports/"+id+".html")
	if !bytes.Contains(html, []byte(`<img class="tenant-logo" src="data:image/png;base64,`)) {
		t.Error("the HTML report lacks the tenant's logo")
	}
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") ||
		!strings.Contains(string(html), fmt.Sprintf("<td>Critical</td>\n<td style=\"text-align:right\">%d</td>", count(bySev, "critical"))) {
		t.Errorf("html: %d %v\n%s", code, h, html)
	}
	code, _, md := p.download(t, "/api/v1/reports/"+id+".md")
	if code != http.StatusOK || !strings.Contains(string(md), fmt.Sprintf("| High | %d | %d |", count(bySev, "high"), count(openBySev, "high"))) {
		t.Errorf("md: %d\n%s", code, md)
	}

	// A period report over the import covers the same findings.
	now := time.Now().UTC()
	code, period := p.do(t, "POST", "/api/v1/reports", "application/json",
		fmt.Sprintf(`{"period":{"from":%q,"to":%q}}`, now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Minute).Format(time.RFC3339)))
	if code != http.StatusAccepted || period["kind"] != "executive" {
		t.Fatalf("period report: %d %v", code, period)
	}
	prep := p.waitReport(t, period["id"].(string))
	if pf := prep["facts"].(map[string]any); prep["status"] != "ready" || count(pf, "total") != total || count(pf, "new") != total {
		t.Errorf("period report %v", prep)
	}
	code, _, ppdf := p.download(t, "/api/v1/reports/"+period["id"].(string)+".pdf")
	if ptext := pdfToText(t, ppdf); code != http.StatusOK || !strings.Contains(ptext, "Executive security report") {
		t.Errorf("period pdf: %d\n%s", code, ptext)
	}

	// Feedback is stored and counted; the list shows both reports.
	if code, fb := p.do(t, "POST", "/api/v1/reports/"+id+"/feedback", "application/json", `{"useful":true,"comment":"clear"}`); code != http.StatusCreated || fb["useful"] != true {
		t.Errorf("feedback: %d %v", code, fb)
	}
	if code, _ := p.do(t, "POST", "/api/v1/reports/"+id+"/feedback", "application/json", `{"comment":"no verdict"}`); code != http.StatusBadRequest {
		t.Errorf("feedback without useful: %d", code)
	}
	_, rep = p.do(t, "GET", "/api/v1/reports/"+id, "", "")
	if fb := rep["feedback"].(map[string]any); count(fb, "useful") != 1 || count(fb, "not_useful") != 0 {
		t.Errorf("feedback counts %v", fb)
	}
	_, list := p.do(t, "GET", "/api/v1/reports?limit=1", "", "")
	if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != period["id"] || list["next_cursor"] == nil {
		t.Errorf("list %v", list)
	}
	_, list = p.do(t, "GET", "/api/v1/reports?limit=1&cursor="+list["next_cursor"].(string), "", "")
	if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != id {
		t.Errorf("second page %v", list)
	}
}

// proseModel is an OpenAI-compatible server standing in for a model: it
// writes report prose from the numbers in the request (as a model would,
// quoting them) and refuses triage batches (the rules' decisions stand).
func proseModel(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var prose atomic.Int32
	openRe := regexp.MustCompile(`"findings_open": (\d+)`)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer sk-e2e" {
			t.Errorf("Authorization %q", r.Header.Get("Authorization"))
		}
		if !bytes.Contains(body, []byte("summary of a security report")) {
			http.Error(w, `{"error":{"message":"triage is not this test's"}}`, http.StatusServiceUnavailable)
			return
		}
		prose.Add(1)
		m := openRe.FindSubmatch(bytes.ReplaceAll(body, []byte(`\"`), []byte(`"`)))
		if m == nil {
			t.Errorf("prose request without findings_open: %s", body)
			http.Error(w, "no facts", http.StatusBadRequest)
			return
		}
		text := fmt.Sprintf("**%s findings are open.** Fix the known exploited ones first, then the rest in priority order.", m[1])
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-e2e", "object": "chat.completion", "created": 1, "model": "prose-e2e",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": text}}},
		})
	}))
	t.Cleanup(s.Close)
	return s, &prose
}

// With a model configured and the tenant opted in, a report's prose is the
// model's (its provenance says so, its Markdown is rendered and sanitised);
// without the opt-in the rules write it and nothing is sent.
func TestReportProseByAModel(t *testing.T) {
	model, asked := proseModel(t)
	p := startWith(t, options{configure: func(c *config.Config) {
		c.LLM = config.LLM{BaseURL: model.URL + "/v1", Model: "prose-e2e", APIKey: "sk-e2e"}
	}})
	code, body := p.upload(t, map[string]string{"scanner": "trivy", "target": "image:registry.acme.test/shop:1.0"}, fixture(t, "trivy/scheme_2_many_vulns.json"))
	if code != http.StatusAccepted {
		t.Fatalf("import: %d %v", code, body)
	}
	sc := p.waitScan(t, body["id"].(string))
	newReport := func() map[string]any {
		code, created := p.do(t, "POST", "/api/v1/reports", "application/json", fmt.Sprintf(`{"scan_id":%q,"kind":"executive"}`, sc["id"]))
		if code != http.StatusAccepted {
			t.Fatalf("create report: %d %v", code, created)
		}
		return p.waitReport(t, created["id"].(string))
	}
	if rep := newReport(); rep["prose_source"] != "rules" || asked.Load() != 0 {
		t.Fatalf("without opt-in: %v, %d prose requests", rep["prose_source"], asked.Load())
	}
	err := p.db.InTx(context.Background(), db.TenantScope(p.tenant), func(ctx context.Context, tx pgx.Tx) error {
		_, err := llmtriage.SetOptIn(ctx, tx, p.tenant, true)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := newReport()
	if rep["prose_source"] != "model:prose-e2e" || asked.Load() != 1 {
		t.Fatalf("opted in: %v, %d prose requests", rep["prose_source"], asked.Load())
	}
	open := count(rep["facts"].(map[string]any), "open")
	id := rep["id"].(string)
	_, _, md := p.download(t, "/api/v1/reports/"+id+".md")
	_, _, html := p.download(t, "/api/v1/reports/"+id+".html")
	if want := fmt.Sprintf("**%d findings are open.**", open); !strings.Contains(string(md), want) {
		t.Errorf("md lacks %q:\n%s", want, md)
	}
	if want := fmt.Sprintf("<strong>%d findings are open.</strong>", open); !strings.Contains(string(html), want) {
		t.Errorf("html lacks %q:\n%s", want, html)
	}
}
