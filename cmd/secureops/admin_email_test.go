package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 18: `secureops admin email preview --template welcome` renders the
// email as it would go out: brand, the operator's templates, sample data.
func TestAdminEmailPreview(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "invite.txt"), []byte(`{{define "subject"}}Join {{brand.Name}}{{end}}Code: {{.RecoveryCode}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"SECUREOPS_ENV": "test", "BRAND_NAME": "Acme Shield", "BRAND_SUPPORT_EMAIL": "help@acme.test",
		"BRAND_LEGAL_FOOTER": "Acme Shield Ltd, 1 Main St", "EMAIL_TEMPLATES_DIR": dir, "SECUREOPS_PUBLIC_URL": "https://portal.acme.test",
	} {
		t.Setenv(k, v)
	}
	run := func(args ...string) (string, error) {
		c := adminCmd()
		var out bytes.Buffer
		c.SetOut(&out)
		c.SetErr(&out)
		c.SetArgs(append([]string{"email", "preview"}, args...))
		err := c.Execute()
		return out.String(), err
	}
	text, err := run("--template", "welcome", "--format", "text")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, "Subject: Welcome to Acme Shield: set your password\n") || !strings.Contains(text, "https://portal.acme.test/auth/recovery") ||
		!strings.Contains(text, "help@acme.test") || !strings.Contains(text, "Acme Shield Ltd, 1 Main St") || strings.Contains(text, "SecureOps") {
		t.Errorf("welcome text:\n%s", text)
	}
	page := filepath.Join(t.TempDir(), "welcome.html")
	if _, err := run("--template", "welcome", "--format", "html", "--out", page); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if h := string(b); !strings.HasPrefix(h, "<!doctype html>") || !strings.Contains(h, `<a href="https://portal.acme.test/auth/recovery?flow=sample&amp;code=123456">`) ||
		!strings.Contains(h, "<title>Welcome to Acme Shield: set your password</title>") || strings.Contains(h, "SecureOps") {
		t.Errorf("welcome page:\n%s", h)
	}
	// The operator's override of the invitation, with the default HTML beside it.
	both, err := run("--template", "invite")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(both, "Subject: Join Acme Shield\n") || !strings.Contains(both, "Code: 123456") || !strings.Contains(both, "--- html ---\n<p>You have been invited to Acme Shield.</p>") {
		t.Errorf("invite preview:\n%s", both)
	}
	for _, bad := range [][]string{{"--template", "welcom"}, {"--template", "welcome", "--format", "pdf"}} {
		out, err := run(bad...)
		if err == nil {
			t.Errorf("%v accepted:\n%s", bad, out)
		}
	}
	if _, err := run("--template", "welcom"); err == nil || !strings.Contains(err.Error(), `unknown email template "welcom"; templates: welcome, invite, invitation, ops, scan-summary`) {
		t.Errorf("unknown template: %v", err)
	}
}
