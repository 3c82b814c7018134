package config

import (
	"net/netip"
	"net/url"
	"os"
	"strings"
)

// Identity is what Ory Kratos shows people about the platform's second
// factors, read here too (compose hands the same variables to Kratos and to
// the platform) so production can refuse the development values
// deploy/kratos/kratos.yml ships.
type Identity struct {
	// TOTPIssuer (TOTP_ISSUER) is the name authenticator apps show beside
	// the code (Kratos' selfservice.methods.totp.config.issuer).
	TOTPIssuer string
	// WebAuthnRPID (WEBAUTHN_RP_ID) is the domain security keys and passkeys
	// are bound to: the portal's host or a parent domain of it. It cannot
	// change once people enrolled keys.
	WebAuthnRPID string
	// WebAuthnRPOrigins (WEBAUTHN_RP_ORIGINS, comma-separated) are the
	// portal's origins as browsers spell them (https://portal.example.com).
	WebAuthnRPOrigins []string
}

// The second-factor settings of deploy/kratos/kratos.yml: fine on a developer
// machine, wrong in production (DevWebAuthnRPID binds keys to localhost).
const (
	DevTOTPIssuer   = "SecureOps"
	DevWebAuthnRPID = "localhost"
)

func loadIdentity(c *Config) {
	c.Identity = Identity{
		TOTPIssuer:   strings.TrimSpace(os.Getenv("TOTP_ISSUER")),
		WebAuthnRPID: strings.ToLower(strings.TrimSpace(os.Getenv("WEBAUTHN_RP_ID"))),
	}
	for _, o := range strings.FieldsFunc(os.Getenv("WEBAUTHN_RP_ORIGINS"), func(r rune) bool { return r == ',' || r == ' ' }) {
		c.WebAuthnRPOrigins = append(c.WebAuthnRPOrigins, strings.TrimRight(o, "/"))
	}
}

// productionProblems lists the second-factor settings production must not
// run with: unset (Kratos would use kratos.yml's development values), the
// development issuer under another brand, an RP ID that is no public domain,
// or origins that are not https on that domain.
func (id Identity) productionProblems(brandName string) []string {
	var problems []string
	switch {
	case id.TOTPIssuer == "":
		problems = append(problems, "TOTP_ISSUER is not set: authenticator apps would show the development issuer "+DevTOTPIssuer+"; set it to the platform's name")
	case id.TOTPIssuer == DevTOTPIssuer && brandName != DevTOTPIssuer:
		problems = append(problems, "TOTP_ISSUER is the development value "+DevTOTPIssuer+" while BRAND_NAME is "+brandName)
	}
	rpID := id.WebAuthnRPID
	switch {
	case rpID == "":
		problems = append(problems, "WEBAUTHN_RP_ID is not set: security keys would be bound to the development RP ID "+DevWebAuthnRPID+"; set it to the portal's domain")
	case !isPublicDomain(rpID):
		problems = append(problems, "WEBAUTHN_RP_ID "+rpID+" is not a public domain name (no localhost, IP address or single label)")
	}
	if len(id.WebAuthnRPOrigins) == 0 {
		problems = append(problems, "WEBAUTHN_RP_ORIGINS is not set: set the portal's https:// origin")
	}
	for _, o := range id.WebAuthnRPOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" || !isPublicDomain(u.Hostname()) {
			problems = append(problems, "WEBAUTHN_RP_ORIGINS "+o+" is not an https:// origin on a public domain")
			continue
		}
		if h := strings.ToLower(u.Hostname()); rpID != "" && h != rpID && !strings.HasSuffix(h, "."+rpID) {
			problems = append(problems, "WEBAUTHN_RP_ORIGINS "+o+" is not on WEBAUTHN_RP_ID "+rpID+" or a subdomain of it")
		}
	}
	return problems
}

// isPublicDomain: a dotted DNS name that is not an IP address, localhost or
// a name under .localhost / .local.
func isPublicDomain(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return false
	}
	if !strings.Contains(h, ".") || h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasSuffix(h, ".local") {
		return false
	}
	return true
}
