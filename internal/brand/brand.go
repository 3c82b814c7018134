// Package brand is the platform's name and look (white label): the portal,
// every email and the reports carry it, so nothing says "SecureOps" when an
// operator set their own. Configured by BRAND_* variables.
package brand

import (
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// Brand is what the platform calls itself and how it looks.
type Brand struct {
	// Name replaces "SecureOps" everywhere a person reads it.
	Name string
	// LogoURL is an https:// image (or a data:image/png|svg+xml URL) shown in
	// the portal's header and on reports' first page; "" shows the name.
	LogoURL string
	// PrimaryColor is the portal's accent colour, #rrggbb; "" keeps the default.
	PrimaryColor string
	// SupportEmail is where people are told to write.
	SupportEmail string
	// LegalFooter is a line under every page, email and report ("" none).
	LegalFooter string
}

// Default is SecureOps' own brand.
var Default = Brand{Name: "SecureOps", SupportEmail: "support@secureops.example"}

// IsDefault reports whether b is SecureOps' own.
func (b Brand) IsDefault() bool { return b.Name == Default.Name }

var colorRe = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// FromEnv reads BRAND_NAME, BRAND_LOGO_URL, BRAND_PRIMARY_COLOR,
// BRAND_SUPPORT_EMAIL and BRAND_LEGAL_FOOTER over the defaults.
func FromEnv() (Brand, error) {
	b := Default
	set := func(dst *string, key string) {
		if v := strings.TrimSpace(os.Getenv(key)); v != "" {
			*dst = v
		}
	}
	set(&b.Name, "BRAND_NAME")
	set(&b.LogoURL, "BRAND_LOGO_URL")
	set(&b.PrimaryColor, "BRAND_PRIMARY_COLOR")
	set(&b.SupportEmail, "BRAND_SUPPORT_EMAIL")
	set(&b.LegalFooter, "BRAND_LEGAL_FOOTER")
	return b, b.Validate()
}

// Validate checks each field's shape.
func (b Brand) Validate() error {
	if b.Name == "" || len(b.Name) > 60 || strings.ContainsAny(b.Name, "<>\r\n") {
		return fmt.Errorf("BRAND_NAME %q: 1–60 characters, no < > or line breaks", b.Name)
	}
	if b.LogoURL != "" {
		u, err := url.Parse(b.LogoURL)
		ok := err == nil && (u.Scheme == "https" && u.Host != "" ||
			strings.HasPrefix(b.LogoURL, "data:image/png;base64,") || strings.HasPrefix(b.LogoURL, "data:image/svg+xml;base64,"))
		if !ok {
			return fmt.Errorf("BRAND_LOGO_URL: an https:// URL or a base64 data:image/png or data:image/svg+xml URL")
		}
	}
	if b.PrimaryColor != "" && !colorRe.MatchString(b.PrimaryColor) {
		return fmt.Errorf("BRAND_PRIMARY_COLOR %q: a colour as #rrggbb", b.PrimaryColor)
	}
	if _, err := mail.ParseAddress(b.SupportEmail); err != nil {
		return fmt.Errorf("BRAND_SUPPORT_EMAIL %q: an email address", b.SupportEmail)
	}
	if len(b.LegalFooter) > 300 || strings.ContainsAny(b.LegalFooter, "<>") {
		return fmt.Errorf("BRAND_LEGAL_FOOTER: at most 300 characters, no < or >")
	}
	return nil
}

// Rename replaces the default product name in s (tier titles, texts written
// for SecureOps) with b's.
func (b Brand) Rename(s string) string {
	if b.IsDefault() {
		return s
	}
	return strings.ReplaceAll(s, Default.Name, b.Name)
}
