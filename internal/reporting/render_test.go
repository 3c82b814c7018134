package reporting

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/brand"
	"github.com/secureops/secureops/internal/contract/report"
)

func sampleFacts(kind string) Facts {
	e1, e2 := 0.97, 0.02
	due := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	return Facts{
		ReportID: uuid.MustParse("11111111-1111-4111-8111-111111111111"), Tenant: "Acme Ünicode GmbH", Kind: kind,
		From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		GeneratedAt:    time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC),
		BySeverity:     map[string]int{"critical": 3, "high": 7, "medium": 12, "low": 5, "info": 2},
		OpenBySeverity: map[string]int{"critical": 2, "high": 6, "medium": 10, "low": 5, "info": 2},
		ByStatus:       map[string]int{"new": 20, "open": 5, "fixed": 4},
		Total:          29, Open: 25, KEVOpen: 1, New: 20, Fixed: 4, SLAOverdue: 3, ScansRun: 6, ScansFailed: 1,
		Top: []report.TopFinding{
			{Title: "OpenSSL | buffer <overflow>", Severity: "critical", Priority: 98, KEV: true, EPSS: &e1, CVEs: []string{"CVE-2024-0001"}, Component: "openssl 3.0.1", SLADueAt: &due},
			{Title: "Weak TLS", Severity: "medium", Priority: 40, EPSS: &e2, Where: "example.com:443"},
		},
	}
}

func TestRulesProse(t *testing.T) {
	f := sampleFacts(report.KindExecutive)
	p, err := RulesWriter{}.Prose(context.Background(), f.Kind, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"29 findings", "25 of them open", "2 criticals", "6 highs", "1 open finding is listed in CISA", "3 findings are past", "Recommendation: fix the known exploited"} {
		if !strings.Contains(p, want) {
			t.Errorf("prose lacks %q:\n%s", want, p)
		}
	}
	p2, _ := RulesWriter{}.Prose(context.Background(), f.Kind, f)
	if p != p2 {
		t.Error("rules prose is not deterministic")
	}
	tech, _ := RulesWriter{}.Prose(context.Background(), report.KindTechnical, sampleFacts(report.KindTechnical))
	if !strings.Contains(tech, `"OpenSSL | buffer <overflow>" (critical, priority 98, in KEV, EPSS 0.97)`) {
		t.Errorf("technical prose: %s", tech)
	}
	empty, _ := RulesWriter{}.Prose(context.Background(), report.KindExecutive, Facts{Kind: report.KindExecutive})
	if !strings.Contains(empty, "found no findings") {
		t.Errorf("empty prose: %s", empty)
	}
	if Source(nil) != "rules" || Source(RulesWriter{}) != "rules" {
		t.Error("source of rules")
	}
}

func TestMarkdown(t *testing.T) {
	f := sampleFacts(report.KindTechnical)
	md, err := Markdown(f, "Some **prose**.", "rules")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Technical security report\n",
		"**Acme Ünicode GmbH** · Period 2026-11-01 00:00 to 2026-12-01 00:00 UTC",
		"## Summary\n\nSome **prose**.\n",
		"| Critical | 3 | 2 |\n| High | 7 | 6 |\n| Medium | 12 | 10 |\n| Low | 5 | 5 |\n| Info | 2 | 2 |\n| **Total** | **29** | **25** |",
		"- Open findings in CISA KEV: 1\n", "- Open findings past their SLA deadline: 3\n", "- Scans run: 6 (1 failed)\n",
		"| Fixed | 4 |", "| False positive | 0 |",
		`| 1 | 98 | Critical | OpenSSL \| buffer &lt;overflow&gt; (CVE-2024-0001) | yes | 0.970 | openssl 3.0.1 | 2026-11-01 |`,
		"| 2 | 40 | Medium | Weak TLS | no | 0.020 | example.com:443 | – |",
		"Prose: rules.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// An executive report lists at most 5 top findings.
	f = sampleFacts(report.KindExecutive)
	for range 10 {
		f.Top = append(f.Top, f.Top[1])
	}
	md, _ = Markdown(f, "", "rules")
	if n := strings.Count(md, "| Weak TLS |"); n != 4 {
		t.Errorf("executive lists %d+1 top findings, want 5", n)
	}
}

func TestHTMLSanitisesModelProse(t *testing.T) {
	f := sampleFacts(report.KindTechnical)
	f.Top[1].Title = `<img src=x onerror=alert(1)>`
	prose := "Fix it now.\n\n<script>alert('pwned')</script>\n\n<a href=\"javascript:alert(1)\">click</a> [link](javascript:alert(2)) <b onclick=\"x()\">bold</b>"
	md, err := Markdown(f, prose, "model:test")
	if err != nil {
		t.Fatal(err)
	}
	h, err := HTML(f, md)
	if err != nil {
		t.Fatal(err)
	}
	low := strings.ToLower(h)
	for _, bad := range []string{"<script", "javascript:", "<img", "alert('pwned')</"} {
		if strings.Contains(low, bad) {
			t.Errorf("html keeps %q:\n%s", bad, h)
		}
	}
	// No tag carries an event handler (escaped text may mention one).
	if m := regexp.MustCompile(`<[a-z][^>]*\son[a-z]+=`).FindString(low); m != "" {
		t.Errorf("html keeps a handler: %s", m)
	}
	if !strings.Contains(h, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Error("a scanner's markup in a title is not shown as text")
	}
	for _, want := range []string{"<title>Technical security report</title>", "<h1", "<table>", "<td>Critical</td>", "Fix it now.", "<strong>29</strong>"} {
		if !strings.Contains(h, want) {
			t.Errorf("html lacks %q:\n%s", want, h)
		}
	}
}

// pdfText extracts a PDF's text with poppler's pdftotext, keeping the layout.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("SECUREOPS_REQUIRE_TOOLS") == "1" {
			t.Fatal("pdftotext (poppler-utils) is missing: scripts/install-deps.sh installs it")
		}
		t.Skip("pdftotext (poppler-utils) is not installed; scripts/install-deps.sh installs it")
	}
	p := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", p, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestPDF(t *testing.T) {
	f := sampleFacts(report.KindTechnical)
	prose, _ := RulesWriter{}.Prose(context.Background(), f.Kind, f)
	doc, err := Render(f, prose, "rules")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(doc.PDF, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", doc.PDF[:min(len(doc.PDF), 16)])
	}
	if !bytes.Contains(doc.PDF, []byte("/Subtype /Image")) {
		t.Error("the PDF embeds no image (the severity chart)")
	}
	text := pdfText(t, doc.PDF)
	for _, re := range []string{
		`Technical security report`, `Acme Ünicode GmbH`,
		`Critical\s+3\s+2`, `High\s+7\s+6`, `Medium\s+12\s+10`, `Low\s+5\s+5`, `Info\s+2\s+2`, `Total\s+29\s+25`,
		`Open findings in CISA KEV: 1`, `Scans run: 6 \(1 failed\)`, `OpenSSL \| buffer <overflow>`, `Priority 98`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("pdf text lacks %s:\n%s", re, text)
		}
	}
	if os.Getenv("REPORT_PDF_OUT") != "" {
		_ = os.WriteFile(os.Getenv("REPORT_PDF_OUT"), doc.PDF, 0o644)
	}
}

func TestPDFWithoutFindings(t *testing.T) {
	f := Facts{Kind: report.KindExecutive, GeneratedAt: time.Unix(0, 0)}
	doc, err := Render(f, "Nothing.", "rules")
	if err != nil {
		t.Fatal(err)
	}
	if text := pdfText(t, doc.PDF); !regexp.MustCompile(`Total\s+0\s+0`).MatchString(text) || !strings.Contains(text, "No open findings.") {
		t.Errorf("empty report:\n%s", text)
	}
}

// Under a brand, the renderings name the operator and carry its legal
// footer; nothing says SecureOps.
func TestRenderBranded(t *testing.T) {
	f := sampleFacts(report.KindExecutive)
	b := brand.Brand{Name: "Acme Shield", SupportEmail: "help@acme.test", LegalFooter: "Acme Shield GmbH, Berlin"}
	doc, err := RenderBranded(f, "Fix the criticals first.", "rules", b)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"markdown": doc.Markdown, "html": doc.HTML} {
		if strings.Contains(s, "SecureOps") || !strings.Contains(s, "Acme Shield") || !strings.Contains(s, b.LegalFooter) {
			t.Errorf("%s not branded:\n%s", name, s)
		}
	}
	if text := pdfText(t, doc.PDF); strings.Contains(text, "SecureOps") || !strings.Contains(text, "Acme Shield") || !strings.Contains(text, b.LegalFooter) {
		t.Errorf("the PDF is not branded:\n%s", text)
	}
}

// Issue 18: a tenant's logo on its own reports, HTML and PDF.
func TestRenderWithTenantLogo(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 120, 40))
	for x := range 120 {
		for y := range 40 {
			img.Set(x, y, color.RGBA{R: 200, G: uint8(2 * x), B: uint8(5 * y), A: 255})
		}
	}
	var logo bytes.Buffer
	if err := png.Encode(&logo, img); err != nil {
		t.Fatal(err)
	}
	f := sampleFacts(report.KindExecutive)
	with, err := RenderLook(f, "Fix the criticals first.", "rules", Look{TenantLogo: logo.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	without, err := RenderLook(f, "Fix the criticals first.", "rules", Look{})
	if err != nil {
		t.Fatal(err)
	}
	tag := `<img class="tenant-logo" src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(logo.Bytes()) + `" alt="Acme Ünicode GmbH logo"`
	if !strings.Contains(with.HTML, tag) || strings.Contains(without.HTML, "tenant-logo") {
		t.Errorf("HTML logo: with=%v without=%v", strings.Contains(with.HTML, tag), strings.Contains(without.HTML, "tenant-logo"))
	}
	if with.Markdown != without.Markdown || !strings.Contains(with.Markdown, "SecureOps") {
		t.Error("the logo changed the Markdown (which carries no images)")
	}
	// The PDF embeds one image more than without: the logo (the severity
	// chart is the other).
	images := func(pdf []byte) int { return bytes.Count(pdf, []byte("/Subtype /Image")) }
	if images(with.PDF) != images(without.PDF)+1 {
		t.Errorf("PDF images: %d with the logo, %d without", images(with.PDF), images(without.PDF))
	}
	if dir := os.Getenv("SECUREOPS_SCREENSHOTS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "report-tenant-logo.pdf"), with.PDF, 0o644)
	}
	if _, err := RenderLook(f, "x", "rules", Look{TenantLogo: []byte("not a png")}); err == nil {
		t.Error("a logo that is no PNG rendered")
	}
}
