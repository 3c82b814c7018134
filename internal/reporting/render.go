package reporting

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/go-analyze/charts"
	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/secureops/secureops/internal/brand"
	"github.com/secureops/secureops/internal/contract/report"
)

// Document is one report rendered three ways.
type Document struct {
	Markdown string
	HTML     string
	PDF      []byte
}

// Render renders the facts and the prose (Markdown a writer produced);
// source is the prose's provenance ("rules", "model:<name>").
func Render(f Facts, prose, source string) (Document, error) {
	return RenderBranded(f, prose, source, brand.Default)
}

// RenderBranded is Render under the platform's brand b: its name where the
// report names the platform, its legal footer at the end.
func RenderBranded(f Facts, prose, source string, b brand.Brand) (Document, error) {
	return RenderLook(f, prose, source, Look{Brand: b})
}

// Look is how a report looks: the platform's brand and the tenant's own
// logo.
type Look struct {
	Brand brand.Brand
	// TenantLogo is the tenant's logo as PNG (tenancy.DecodeLogo made it
	// one), shown at the top of the HTML and of the PDF's first page; nil:
	// none.
	TenantLogo []byte
}

// RenderLook is Render with look: the brand as RenderBranded, the tenant's
// logo on the HTML and the PDF (the Markdown has no images).
func RenderLook(f Facts, prose, source string, look Look) (Document, error) {
	if look.Brand.Name == "" {
		look.Brand = brand.Default
	}
	md, err := markdown(f, prose, source, look.Brand)
	if err != nil {
		return Document{}, err
	}
	h, err := htmlOf(f, md, look.TenantLogo)
	if err != nil {
		return Document{}, err
	}
	pdf, err := pdfOf(f, prose, look.Brand, look.TenantLogo)
	if err != nil {
		return Document{}, err
	}
	return Document{Markdown: md, HTML: h, PDF: pdf}, nil
}

// Title is the report's heading.
func Title(f Facts) string {
	k := "Executive"
	if f.Kind == report.KindTechnical {
		k = "Technical"
	}
	return k + " security report"
}

// Scope says what the report covers, in one line.
func Scope(f Facts) string {
	s := fmt.Sprintf("%s to %s", f.From.UTC().Format("2006-01-02 15:04"), f.To.UTC().Format("2006-01-02 15:04 UTC"))
	if f.ScanID != nil {
		return fmt.Sprintf("Scan %s of %s (%s)", f.ScanID, f.Target, s)
	}
	return "Period " + s
}

// Label is a severity or status as a person reads it.
func Label(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// topCount is how many of the top findings each kind lists.
func topCount(f Facts) int {
	if f.Kind == report.KindTechnical {
		return min(len(f.Top), 20)
	}
	return min(len(f.Top), 5)
}

func where(t report.TopFinding) string {
	if t.Component != "" {
		return t.Component
	}
	return t.Where
}

func epss(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.3f", *p)
}

func due(t *time.Time) string {
	if t == nil {
		return "–"
	}
	return t.UTC().Format(time.DateOnly)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// cell makes untrusted text (scanner titles, targets) safe in one Markdown
// table cell: one line, no pipes, no HTML or link syntax that could act.
var cellEscaper = strings.NewReplacer("|", `\|`, "\r", " ", "\n", " ", "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`, "`", "'")

func cell(s string) string {
	s = cellEscaper.Replace(s)
	if r := []rune(s); len(r) > 120 {
		s = string(r[:119]) + "…"
	}
	return s
}

var funcs = template.FuncMap{
	"label": Label, "cell": cell, "epss": epss, "due": due, "yesno": yesNo, "where": where,
	"title": Title, "scope": Scope,
	"fmtTime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"inc":     func(i int) int { return i + 1 },
	"join":    func(s []string) string { return strings.Join(s, ", ") },
}

var mdTemplate = template.Must(template.New("report.md").Funcs(funcs).Parse(`# {{title .F}}

{{if .F.Tenant}}**{{cell .F.Tenant}}** · {{end}}{{cell (scope .F)}} · generated {{fmtTime .F.GeneratedAt}}

## Summary

{{.Prose}}

## Findings by severity

| Severity | Findings | Open |
| --- | ---: | ---: |
{{range .Severities}}| {{label .}} | {{index $.F.BySeverity .}} | {{index $.F.OpenBySeverity .}} |
{{end}}| **Total** | **{{.F.Total}}** | **{{.F.Open}}** |

## Key numbers

- Open findings in CISA KEV: {{.F.KEVOpen}}
- Open findings past their SLA deadline: {{.F.SLAOverdue}}
- New findings in the window: {{.F.New}}
- Findings fixed in the window: {{.F.Fixed}}
- Scans run: {{.F.ScansRun}} ({{.F.ScansFailed}} failed)

## Findings by status

| Status | Findings |
| --- | ---: |
{{range .Statuses}}| {{label .}} | {{index $.F.ByStatus .}} |
{{end}}
## Top findings by priority

{{if .Top}}| # | Priority | Severity | Finding | KEV | EPSS | Where | SLA due |
| ---: | ---: | --- | --- | --- | ---: | --- | --- |
{{range $i, $t := .Top}}| {{inc $i}} | {{$t.Priority}} | {{label $t.Severity}} | {{cell $t.Title}}{{if $t.CVEs}} ({{cell (join $t.CVEs)}}){{end}} | {{yesno $t.KEV}} | {{epss $t.EPSS}} | {{cell (where $t)}} | {{due $t.SLADueAt}} |
{{end}}{{else}}No open findings.
{{end}}
---
Numbers: {{.Brand.Name}} database. Prose: {{.Source}}.{{if .Brand.LegalFooter}}

{{.Brand.LegalFooter}}{{end}}
`))

// Markdown renders the report as Markdown; prose is inserted as written
// (the HTML sanitises it), source says who wrote it.
func Markdown(f Facts, prose, source string) (string, error) {
	return markdown(f, prose, source, brand.Default)
}

func markdown(f Facts, prose, source string, br brand.Brand) (string, error) {
	if source == "" {
		source = SourceRules
	}
	var b bytes.Buffer
	err := mdTemplate.Execute(&b, map[string]any{
		"F": f, "Prose": strings.TrimSpace(prose), "Severities": report.Severities, "Statuses": report.Statuses,
		"Top": f.Top[:topCount(f)], "Source": source, "Brand": br,
	})
	return b.String(), err
}

var (
	md = goldmark.New(goldmark.WithExtensions(extension.Table))
	// sanitizer keeps the markup Markdown makes (tables included) and drops
	// scripts, event handlers, styles and javascript: links.
	sanitizer = func() *bluemonday.Policy {
		p := bluemonday.UGCPolicy()
		p.AllowAttrs("style").Matching(regexp.MustCompile(`^text-align:\s*(left|right|center);?$`)).OnElements("th", "td")
		return p
	}()
)

const htmlHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1f24;line-height:1.5}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #d0d7de;padding:.3rem .6rem}
th{background:#f6f8fa}h1{margin-bottom:.2rem}
</style></head><body>
`

// HTML renders the report's Markdown as a standalone page. Everything
// between the page's own head and end is sanitised: a model's or a
// scanner's markup never reaches a browser as markup.
func HTML(f Facts, markdown string) (string, error) { return htmlOf(f, markdown, nil) }

func htmlOf(f Facts, markdown string, logo []byte) (string, error) {
	var body bytes.Buffer
	if err := md.Convert([]byte(markdown), &body); err != nil {
		return "", err
	}
	clean := sanitizer.SanitizeBytes(body.Bytes())
	top := ""
	if len(logo) > 0 {
		// Our markup, outside the sanitised part: a PNG we re-encoded.
		alt := "Logo"
		if f.Tenant != "" {
			alt = f.Tenant + " logo"
		}
		top = `<img class="tenant-logo" src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(logo) +
			`" alt="` + template.HTMLEscapeString(alt) + `" style="float:right;max-height:64px;max-width:240px">` + "\n"
	}
	return fmt.Sprintf(htmlHead, template.HTMLEscapeString(Title(f))) + top + string(clean) + "</body></html>\n", nil
}

// SeverityChart draws the findings by severity as a bar chart (PNG).
func SeverityChart(f Facts) ([]byte, error) {
	labels := make([]string, len(report.Severities))
	values := make([]float64, len(report.Severities))
	for i, s := range report.Severities {
		labels[i] = Label(s)
		values[i] = float64(f.BySeverity[s])
	}
	p, err := charts.BarRender([][]float64{values},
		charts.PNGOutputOptionFunc(),
		charts.DimensionsOptionFunc(800, 360),
		charts.TitleTextOptionFunc("Findings by severity"),
		charts.XAxisLabelsOptionFunc(labels),
		charts.SeriesShowLabel(true),
	)
	if err != nil {
		return nil, err
	}
	return p.Bytes()
}

// plain turns Markdown prose into text for the PDF: no markup characters.
var markup = strings.NewReplacer("**", "", "__", "", "`", "")

func plain(s string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		line = strings.TrimLeft(line, "#> ")
		out = append(out, markup.Replace(line))
	}
	return strings.Join(out, "\n")
}

// PDF renders the report as an A4 PDF with the Go fonts embedded (UTF-8)
// and the severity chart.
func PDF(f Facts, prose string) ([]byte, error) { return pdfOf(f, prose, brand.Default, nil) }

func pdfOf(f Facts, prose string, br brand.Brand, logo []byte) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(f.GeneratedAt)
	pdf.SetModificationDate(f.GeneratedAt)
	pdf.SetTitle(Title(f), true)
	pdf.SetCreator(br.Name, true)
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	pdf.SetMargins(18, 18, 18)
	pdf.SetAutoPageBreak(true, 18)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("go", "", 8)
		pdf.SetTextColor(110, 110, 110)
		foot := fmt.Sprintf("%s · %s · page %d of {nb}", br.Name, Title(f), pdf.PageNo())
		if br.LegalFooter != "" {
			foot = br.LegalFooter + " · " + foot
		}
		pdf.CellFormat(0, 5, foot, "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	pdf.SetTextColor(20, 20, 20)
	width, _ := pdf.GetPageSize()
	left, _, right, _ := pdf.GetMargins()
	usable := width - left - right

	headW := 0.0 // the title and the line under it: the full width, or beside the logo
	if len(logo) > 0 {
		// The tenant's logo, top right, at most 50×16 mm, proportions kept.
		opt := fpdf.ImageOptions{ImageType: "PNG", ReadDpi: false}
		info := pdf.RegisterImageOptionsReader("tenant-logo", opt, bytes.NewReader(logo))
		if err := pdf.Error(); err != nil {
			return nil, fmt.Errorf("tenant logo: %w", err)
		}
		w, h := 50.0, 50.0*info.Height()/info.Width()
		if h > 16 {
			w, h = 16*info.Width()/info.Height(), 16
		}
		_, top, _, _ := pdf.GetMargins()
		pdf.ImageOptions("tenant-logo", width-right-w, top, w, h, false, opt, 0, "")
		headW = usable - w - 4
	}
	pdf.SetFont("go", "B", 20)
	pdf.CellFormat(headW, 10, Title(f), "", 1, "", false, 0, "")
	pdf.SetFont("go", "", 10)
	head := Scope(f) + " · generated " + f.GeneratedAt.UTC().Format("2006-01-02 15:04 UTC")
	if f.Tenant != "" {
		head = f.Tenant + " · " + head
	}
	pdf.MultiCell(headW, 5, head, "", "", false)
	pdf.Ln(3)

	heading := func(s string) {
		pdf.Ln(2)
		pdf.SetFont("go", "B", 13)
		pdf.CellFormat(0, 8, s, "", 1, "", false, 0, "")
		pdf.SetFont("go", "", 10)
	}
	heading("Summary")
	pdf.MultiCell(0, 5, plain(prose), "", "", false)

	heading("Findings by severity")
	cols := []float64{50, 30, 30}
	row := func(bold bool, cells ...string) {
		style := ""
		if bold {
			style = "B"
		}
		pdf.SetFont("go", style, 10)
		for i, c := range cells {
			align := "R"
			if i == 0 {
				align = "L"
			}
			pdf.CellFormat(cols[i], 6, c, "1", 0, align, bold, 0, "")
		}
		pdf.Ln(-1)
	}
	pdf.SetFillColor(240, 242, 245)
	row(true, "Severity", "Findings", "Open")
	for _, s := range report.Severities {
		row(false, Label(s), fmt.Sprint(f.BySeverity[s]), fmt.Sprint(f.OpenBySeverity[s]))
	}
	row(true, "Total", fmt.Sprint(f.Total), fmt.Sprint(f.Open))

	if f.Total > 0 {
		png, err := SeverityChart(f)
		if err != nil {
			return nil, fmt.Errorf("severity chart: %w", err)
		}
		opt := fpdf.ImageOptions{ImageType: "PNG", ReadDpi: false}
		pdf.RegisterImageOptionsReader("severity", opt, bytes.NewReader(png))
		pdf.Ln(3)
		pdf.ImageOptions("severity", left, pdf.GetY(), usable*0.8, 0, true, opt, 0, "")
	}

	heading("Key numbers")
	for _, l := range []string{
		fmt.Sprintf("Open findings in CISA KEV: %d", f.KEVOpen),
		fmt.Sprintf("Open findings past their SLA deadline: %d", f.SLAOverdue),
		fmt.Sprintf("New findings in the window: %d", f.New),
		fmt.Sprintf("Findings fixed in the window: %d", f.Fixed),
		fmt.Sprintf("Scans run: %d (%d failed)", f.ScansRun, f.ScansFailed),
	} {
		pdf.CellFormat(0, 5.5, "• "+l, "", 1, "", false, 0, "")
	}

	heading("Top findings by priority")
	top := f.Top[:topCount(f)]
	if len(top) == 0 {
		pdf.CellFormat(0, 6, "No open findings.", "", 1, "", false, 0, "")
	}
	for i, t := range top {
		pdf.SetFont("go", "B", 10)
		title := t.Title
		if len(t.CVEs) > 0 {
			title += " (" + strings.Join(t.CVEs, ", ") + ")"
		}
		pdf.MultiCell(0, 5, fmt.Sprintf("%d. %s", i+1, title), "", "", false)
		pdf.SetFont("go", "", 9)
		line := fmt.Sprintf("Priority %d · %s · KEV %s · EPSS %s · SLA due %s", t.Priority, Label(t.Severity), yesNo(t.KEV), epss(t.EPSS), due(t.SLADueAt))
		if w := where(t); w != "" {
			line += " · " + w
		}
		pdf.MultiCell(0, 4.5, line, "", "", false)
		pdf.Ln(1.5)
	}
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
