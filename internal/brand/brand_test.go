package brand

import (
	"strings"
	"testing"
)

func TestFromEnvAndValidate(t *testing.T) {
	t.Setenv("BRAND_NAME", "Acme Shield")
	t.Setenv("BRAND_PRIMARY_COLOR", "#0a7d33")
	t.Setenv("BRAND_SUPPORT_EMAIL", "help@acme.test")
	b, err := FromEnv()
	if err != nil || b.Name != "Acme Shield" || b.PrimaryColor != "#0a7d33" || b.SupportEmail != "help@acme.test" || b.IsDefault() {
		t.Fatalf("FromEnv = %+v, %v", b, err)
	}
	if got := b.Rename("Welcome to SecureOps: SecureOps Pro"); got != "Welcome to Acme Shield: Acme Shield Pro" {
		t.Errorf("Rename = %q", got)
	}
	if got := Default.Rename("SecureOps"); got != "SecureOps" {
		t.Errorf("default Rename = %q", got)
	}
	for name, bad := range map[string]Brand{
		"empty name":     {Name: "", SupportEmail: "a@b.test"},
		"markup in name": {Name: "<b>x</b>", SupportEmail: "a@b.test"},
		"colour":         {Name: "X", PrimaryColor: "red;}body{display:none", SupportEmail: "a@b.test"},
		"http logo":      {Name: "X", LogoURL: "http://logo.test/x.png", SupportEmail: "a@b.test"},
		"script logo":    {Name: "X", LogoURL: "javascript:alert(1)", SupportEmail: "a@b.test"},
		"support":        {Name: "X", SupportEmail: "not an address"},
		"footer markup":  {Name: "X", SupportEmail: "a@b.test", LegalFooter: "<script>"},
		"long footer":    {Name: "X", SupportEmail: "a@b.test", LegalFooter: strings.Repeat("x", 301)},
	} {
		if bad.Validate() == nil {
			t.Errorf("%s: accepted %+v", name, bad)
		}
	}
	ok := Brand{Name: "X", LogoURL: "https://cdn.acme.test/logo.svg", SupportEmail: "a@b.test"}
	if err := ok.Validate(); err != nil {
		t.Errorf("https logo refused: %v", err)
	}
	t.Setenv("BRAND_PRIMARY_COLOR", "blue")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "BRAND_PRIMARY_COLOR") {
		t.Errorf("a bad colour: %v", err)
	}
}
