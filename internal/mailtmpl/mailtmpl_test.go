package mailtmpl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secureops/secureops/internal/brand"
)

// Every email has a text and an HTML template, and each renders its sample.
func TestEveryTemplateRendersItsSample(t *testing.T) {
	acme := brand.Brand{Name: "Acme Shield", SupportEmail: "help@acme.test", LegalFooter: "Acme Shield Ltd"}
	for _, name := range Names {
		data := Sample(name, "https://portal.acme.test")
		if data == nil {
			t.Errorf("%s: no sample", name)
			continue
		}
		m, err := Default().Render(name, acme, data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		m = Branded(acme, m)
		if m.Subject == "" || strings.TrimSpace(m.Text) == "" || strings.TrimSpace(m.HTML) == "" {
			t.Errorf("%s: empty part: %+v", name, m)
		}
		all := m.Subject + m.Text + m.HTML
		for _, bad := range []string{"<no value>", "SecureOps", "%!"} {
			if strings.Contains(all, bad) {
				t.Errorf("%s carries %q:\n%s\n%s\n%s", name, bad, m.Subject, m.Text, m.HTML)
			}
		}
		if !strings.Contains(m.Text, "help@acme.test") || !strings.Contains(m.HTML, "Acme Shield Ltd") {
			t.Errorf("%s: brand footer missing", name)
		}
	}
	sla, _ := Default().Render("sla-notice", brand.Default, SLANotice{OverdueTotal: 2, SoonTotal: 1, Overdue: []Finding{{Title: "a"}}, Soon: []Finding{{Title: "b"}}})
	if sla.Subject != "[SecureOps] SLA: 2 finding(s) overdue, 1 due within 3 days" {
		t.Errorf("SLA subject %q", sla.Subject)
	}
}

// An operator's files replace the defaults they name; a file of another
// name, or one that does not parse, stops the process with its name.
func TestOverrides(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("welcome.txt", `{{define "subject"}}Hi from {{brand.Name}}{{end}}Dear {{.ContactName}}, your code is {{.RecoveryCode}}.`)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Render("welcome", brand.Brand{Name: "Acme Shield", SupportEmail: "a@b.test"}, Sample("welcome", ""))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Hi from Acme Shield" || m.Text != "Dear Ada Lovelace, your code is 123456." || !strings.Contains(m.HTML, "Set your password") {
		t.Errorf("override not applied (or the default HTML lost): %+v", m)
	}
	if len(s.Overridden) != 1 || s.Overridden[0] != "welcome.txt" {
		t.Errorf("overridden %v", s.Overridden)
	}

	write("welcom.html", "<p>typo</p>")
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "welcom.html") || !strings.Contains(err.Error(), "scan-summary") {
		t.Errorf("a misnamed file: %v", err)
	}
	os.Remove(filepath.Join(dir, "welcom.html"))
	write("ops.txt", "no subject here")
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "ops.txt") {
		t.Errorf("a template without a subject: %v", err)
	}
	write("ops.txt", `{{define "subject"}}x{{end}}{{.Nope`)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "ops.txt") {
		t.Errorf("a template that does not parse: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing directory is accepted")
	}

	_, err = Default().Render("welcome-back", brand.Default, nil)
	if !errors.Is(err, ErrUnknownTemplate) || !strings.Contains(err.Error(), "welcome, invite") {
		t.Errorf("unknown template: %v", err)
	}
}
