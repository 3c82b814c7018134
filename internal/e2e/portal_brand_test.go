package e2e

import (
	"strings"
	"testing"

	"github.com/secureops/secureops/internal/brand"
	"github.com/secureops/secureops/internal/config"
)

// A 1×1 PNG, as an operator's logo.
const tinyLogo = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="

// TestPortalWhiteLabel: with a brand configured, the public pages, the
// sign-in page and a signed-in dashboard carry the operator's name, logo,
// colour and legal footer and never say SecureOps; the welcome email is
// branded too.
func TestPortalWhiteLabel(t *testing.T) {
	b := brand.Brand{Name: "Acme Shield", LogoURL: tinyLogo, PrimaryColor: "#0a7d33",
		SupportEmail: "help@acme-shield.test", LegalFooter: "Acme Shield GmbH, Musterstraße 1, Berlin"}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	e := startPortal(t, func(c *config.Config) { c.Brand = b })
	s := e.signup(t, "Branded Customer", "owner@branded.test", "")
	if st := e.wait(t, s); st["status"] != "completed" {
		t.Fatalf("onboarding %v", st)
	}
	mail := e.resend.byKey("email/welcome/" + s.TenantID.String())[0]
	if strings.Contains(mail.Subject+mail.Text+mail.HTML, "SecureOps") || !strings.Contains(mail.Subject, "Acme Shield") ||
		!strings.Contains(mail.Text, "help@acme-shield.test") || !strings.Contains(mail.Text, b.LegalFooter) {
		t.Errorf("welcome email not branded:\n%s\n%s", mail.Subject, mail.Text)
	}
	link, code := recoveryFrom(t, mail.Text)
	completeRecovery(t, e.kr, link, code, "Zq7-branded-vault-42")

	tb := newTab(t)
	check := func(page string) {
		t.Helper()
		body := eval[string](tb, `document.documentElement.outerHTML`)
		text := eval[string](tb, `document.body.innerText`)
		if strings.Contains(text, "SecureOps") || strings.Contains(eval[string](tb, `document.title`), "SecureOps") {
			t.Errorf("%s says SecureOps:\n%s", page, text)
		}
		if !strings.Contains(body, `alt="Acme Shield"`) || !strings.Contains(text, b.LegalFooter) || !strings.Contains(body, "--pico-primary:#0a7d33;") {
			t.Errorf("%s lacks the logo, the footer or the colour", page)
		}
	}
	tb.open(e.URL + "/")
	check("landing page")
	tb.snap("brand-landing")
	tb.open(e.URL + "/auth/login")
	tb.waitPath("/auth/login")
	check("sign-in page")
	tb.signIn(e.kratosPublic, "owner@branded.test", "Zq7-branded-vault-42")
	tb.open(e.URL + "/app")
	tb.waitPath("/app")
	check("dashboard")
}
