package checks

import "github.com/secureops/secureops/internal/findings"

// Rule ids are part of every finding's fingerprint: renaming one makes every
// existing finding of that rule look fixed and a new one appear.
const (
	RuleTLSExpired          = "tls-expired"
	RuleTLSNotYetValid      = "tls-not-yet-valid"
	RuleTLSExpiringSoon     = "tls-expiring-soon"
	RuleTLSHostnameMismatch = "tls-hostname-mismatch"
	RuleTLSSelfSigned       = "tls-self-signed"
	RuleTLSUntrustedIssuer  = "tls-untrusted-issuer"
	RuleTLSInvalidChain     = "tls-invalid-chain"
	RuleTLS10               = "tls-1.0"
	RuleTLS11               = "tls-1.1"
	RuleTLSWeakCipher       = "tls-weak-cipher"

	RuleMissingHSTS                = "http-missing-hsts"
	RuleMissingCSP                 = "http-missing-csp"
	RuleMissingXFrameOptions       = "http-missing-x-frame-options"
	RuleMissingXContentTypeOptions = "http-missing-x-content-type-options"
	RuleMissingReferrerPolicy      = "http-missing-referrer-policy"

	RuleCookieMissingSecure   = "cookie-missing-secure"
	RuleCookieMissingHTTPOnly = "cookie-missing-httponly"
	RuleCookieMissingSameSite = "cookie-missing-samesite"

	RuleExposedGit       = "exposed-git"
	RuleExposedEnv       = "exposed-env"
	RuleDirectoryListing = "directory-listing"
)

type rule struct {
	title       string
	severity    findings.Severity
	cwes        []int
	description string
	remediation string
	references  []string
}

const (
	refMozillaTLS   = "https://wiki.mozilla.org/Security/Server_Side_TLS"
	refOWASPTLS     = "https://owasp.org/www-project-web-security-testing-guide/latest/4-Web_Application_Security_Testing/09-Testing_for_Weak_Cryptography/01-Testing_for_Weak_Transport_Layer_Security"
	refOWASPTLSCS   = "https://cheatsheetseries.owasp.org/cheatsheets/Transport_Layer_Security_Cheat_Sheet.html"
	refOWASPHeaders = "https://cheatsheetseries.owasp.org/cheatsheets/HTTP_Headers_Cheat_Sheet.html"
	refOWASPSecHdr  = "https://owasp.org/www-project-secure-headers/"
	refOWASPCookies = "https://owasp.org/www-project-web-security-testing-guide/latest/4-Web_Application_Security_Testing/06-Session_Management_Testing/02-Testing_for_Cookies_Attributes"
	refMDNCookies   = "https://developer.mozilla.org/en-US/docs/Web/HTTP/Cookies"
	refOWASPFiles   = "https://owasp.org/www-project-web-security-testing-guide/latest/4-Web_Application_Security_Testing/02-Configuration_and_Deployment_Management_Testing/04-Review_Old_Backup_and_Unreferenced_Files_for_Sensitive_Information"
)

var rules = map[string]rule{
	RuleTLSExpired: {
		title:       "TLS certificate has expired",
		severity:    findings.SeverityHigh,
		cwes:        []int{298},
		description: "The certificate the server presents is past its notAfter date. Clients reject it, and users who are trained to click through the warning can no longer tell an attacker's certificate from the real one.",
		remediation: "Renew the certificate and automate renewal (for example with ACME) so it is replaced well before it expires.",
		references:  []string{refMozillaTLS, refOWASPTLS},
	},
	RuleTLSNotYetValid: {
		title:       "TLS certificate is not yet valid",
		severity:    findings.SeverityHigh,
		cwes:        []int{298},
		description: "The certificate the server presents has a notBefore date in the future, so clients reject it.",
		remediation: "Deploy a certificate that is already valid, and check the clock of the machine that issued it.",
		references:  []string{refMozillaTLS, refOWASPTLS},
	},
	RuleTLSExpiringSoon: {
		title:       "TLS certificate expires within 30 days",
		severity:    findings.SeverityLow,
		cwes:        []int{298},
		description: "The certificate the server presents expires within 30 days; once it does, clients will refuse to connect.",
		remediation: "Renew the certificate now and automate renewal (for example with ACME).",
		references:  []string{refMozillaTLS},
	},
	RuleTLSHostnameMismatch: {
		title:       "TLS certificate does not match the host name",
		severity:    findings.SeverityHigh,
		cwes:        []int{297},
		description: "None of the names in the certificate matches the host the service is reached by, so clients reject the connection or, if configured to ignore the error, cannot detect an interception.",
		remediation: "Issue a certificate whose subjectAltName covers every name the service is reached by.",
		references:  []string{refOWASPTLS, refOWASPTLSCS},
	},
	RuleTLSSelfSigned: {
		title:       "TLS certificate is self-signed",
		severity:    findings.SeverityMedium,
		cwes:        []int{295},
		description: "The server presents a certificate signed by its own key. Clients cannot authenticate the server, and users taught to accept the warning will accept an attacker's certificate just as readily.",
		remediation: "Use a certificate issued by a publicly trusted CA, or by an internal CA that every client trusts explicitly.",
		references:  []string{refOWASPTLS, refOWASPTLSCS},
	},
	RuleTLSUntrustedIssuer: {
		title:       "TLS certificate issued by an untrusted CA",
		severity:    findings.SeverityMedium,
		cwes:        []int{296},
		description: "The certificate chain does not lead to a trusted root: it is issued by a private or unknown CA, or the server does not send the intermediate certificates needed to build the chain.",
		remediation: "Use a certificate from a publicly trusted CA (or distribute the internal CA to every client) and configure the server to send the full chain of intermediates.",
		references:  []string{refOWASPTLS, refMozillaTLS},
	},
	RuleTLSInvalidChain: {
		title:       "TLS certificate chain is invalid",
		severity:    findings.SeverityMedium,
		cwes:        []int{295},
		description: "The certificate chain fails validation for a reason other than trust or the leaf's dates: an expired intermediate, a certificate not meant for server authentication, or a violated name constraint.",
		remediation: "Reissue the certificate for TLS server authentication and serve a current, complete chain.",
		references:  []string{refOWASPTLS, refMozillaTLS},
	},
	RuleTLS10: {
		title:       "TLS 1.0 is accepted",
		severity:    findings.SeverityMedium,
		cwes:        []int{327},
		description: "The server completes a TLS 1.0 handshake. TLS 1.0 is deprecated by RFC 8996: it relies on MD5/SHA-1 in the handshake and on CBC constructions open to BEAST-style attacks, and it cannot use modern AEAD cipher suites.",
		remediation: "Disable TLS 1.0 and 1.1; accept TLS 1.2 and 1.3 only.",
		references:  []string{"https://datatracker.ietf.org/doc/html/rfc8996", refMozillaTLS, refOWASPTLS},
	},
	RuleTLS11: {
		title:       "TLS 1.1 is accepted",
		severity:    findings.SeverityMedium,
		cwes:        []int{327},
		description: "The server completes a TLS 1.1 handshake. TLS 1.1 is deprecated by RFC 8996: it relies on MD5/SHA-1 in the handshake and cannot use modern AEAD cipher suites.",
		remediation: "Disable TLS 1.0 and 1.1; accept TLS 1.2 and 1.3 only.",
		references:  []string{"https://datatracker.ietf.org/doc/html/rfc8996", refMozillaTLS, refOWASPTLS},
	},
	RuleTLSWeakCipher: {
		title:       "Weak TLS cipher suites are accepted",
		severity:    findings.SeverityMedium,
		cwes:        []int{326, 327},
		description: "The server agrees to cipher suites that are broken or lack forward secrecy: RC4 (RFC 7465), 3DES (64-bit blocks, Sweet32) or static RSA key exchange (no forward secrecy, Bleichenbacher/ROBOT-style oracles).",
		remediation: "Restrict the server to ECDHE key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305), for example Mozilla's \"intermediate\" configuration.",
		references:  []string{refMozillaTLS, refOWASPTLSCS, "https://datatracker.ietf.org/doc/html/rfc7465", "https://sweet32.info/"},
	},

	RuleMissingHSTS: {
		title:       "Strict-Transport-Security header missing",
		severity:    findings.SeverityMedium,
		cwes:        []int{319},
		description: "The HTTPS response has no effective Strict-Transport-Security header (absent, or without a positive max-age), so browsers will still try plain HTTP first and an on-path attacker can strip TLS.",
		remediation: "Send \"Strict-Transport-Security: max-age=63072000; includeSubDomains\" on every HTTPS response once the whole site works over HTTPS.",
		references:  []string{"https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Strict-Transport-Security", "https://cheatsheetseries.owasp.org/cheatsheets/HTTP_Strict_Transport_Security_Cheat_Sheet.html"},
	},
	RuleMissingCSP: {
		title:       "Content-Security-Policy header missing",
		severity:    findings.SeverityLow,
		cwes:        []int{693},
		description: "The response has no enforced Content-Security-Policy, so the browser has no second line of defence against cross-site scripting and content injection.",
		remediation: "Send a Content-Security-Policy that restricts script sources (start with default-src 'self' and tighten); a Report-Only policy alone enforces nothing.",
		references:  []string{"https://developer.mozilla.org/en-US/docs/Web/HTTP/CSP", "https://cheatsheetseries.owasp.org/cheatsheets/Content_Security_Policy_Cheat_Sheet.html", refOWASPSecHdr},
	},
	RuleMissingXFrameOptions: {
		title:       "Clickjacking protection missing",
		severity:    findings.SeverityMedium,
		cwes:        []int{1021},
		description: "The response neither sends X-Frame-Options (DENY or SAMEORIGIN) nor a Content-Security-Policy frame-ancestors directive, so any site can frame the page and trick users into clicking on it.",
		remediation: "Send \"Content-Security-Policy: frame-ancestors 'self'\" (or 'none'), and X-Frame-Options: DENY for older browsers.",
		references:  []string{"https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/X-Frame-Options", "https://cheatsheetseries.owasp.org/cheatsheets/Clickjacking_Defense_Cheat_Sheet.html"},
	},
	RuleMissingXContentTypeOptions: {
		title:       "X-Content-Type-Options: nosniff missing",
		severity:    findings.SeverityLow,
		cwes:        []int{693},
		description: "Without X-Content-Type-Options: nosniff browsers may sniff a response's type and run user-supplied content as script or style.",
		remediation: "Send \"X-Content-Type-Options: nosniff\" on every response, with a correct Content-Type.",
		references:  []string{"https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/X-Content-Type-Options", refOWASPHeaders},
	},
	RuleMissingReferrerPolicy: {
		title:       "Referrer-Policy header missing or unsafe",
		severity:    findings.SeverityInfo,
		cwes:        []int{200},
		description: "The response sets no valid Referrer-Policy, or sets unsafe-url, so full URLs (with any tokens in their paths or queries) may leak to other sites. Modern browsers default to strict-origin-when-cross-origin, which limits the impact.",
		remediation: "Send \"Referrer-Policy: strict-origin-when-cross-origin\" (or no-referrer).",
		references:  []string{"https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Referrer-Policy", refOWASPHeaders},
	},

	RuleCookieMissingSecure: {
		title:       "Cookie set without the Secure flag",
		severity:    findings.SeverityMedium,
		cwes:        []int{614},
		description: "A cookie set over HTTPS lacks the Secure attribute, so the browser will also send it over plain HTTP where an on-path attacker can read it.",
		remediation: "Add the Secure attribute to every cookie set by an HTTPS site.",
		references:  []string{refMDNCookies, refOWASPCookies},
	},
	RuleCookieMissingHTTPOnly: {
		title:       "Cookie set without the HttpOnly flag",
		severity:    findings.SeverityLow,
		cwes:        []int{1004},
		description: "A cookie lacks the HttpOnly attribute, so any script running in the page, including one injected through XSS, can read it.",
		remediation: "Add HttpOnly to every cookie that scripts do not need to read, session cookies above all.",
		references:  []string{refMDNCookies, refOWASPCookies},
	},
	RuleCookieMissingSameSite: {
		title:       "Cookie set without a SameSite attribute",
		severity:    findings.SeverityLow,
		cwes:        []int{1275},
		description: "A cookie has no (valid) SameSite attribute, leaving its cross-site behaviour to browser defaults, which differ; cross-site requests may carry it and enable CSRF.",
		remediation: "Set SameSite=Lax (or Strict) explicitly; use SameSite=None; Secure only for cookies that must be sent cross-site.",
		references:  []string{"https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Set-Cookie#samesitesamesite-value", refOWASPCookies},
	},

	RuleExposedGit: {
		title:       "Git repository exposed over HTTP",
		severity:    findings.SeverityHigh,
		cwes:        []int{527, 538},
		description: "The .git directory is served by the web server. Its objects can be downloaded to rebuild the source code and history, often including credentials committed at some point.",
		remediation: "Remove .git from the web root (deploy build artefacts, not checkouts) and deny access to dot-directories in the server configuration; rotate any secret ever committed.",
		references:  []string{refOWASPFiles, "https://cwe.mitre.org/data/definitions/527.html"},
	},
	RuleExposedEnv: {
		title:       "Environment file (.env) exposed over HTTP",
		severity:    findings.SeverityCritical,
		cwes:        []int{538, 200},
		description: "A .env file with KEY=VALUE settings is served by the web server. These files usually hold database passwords, API keys and application secrets.",
		remediation: "Remove the file from the web root, deny access to dot-files in the server configuration, and rotate every secret it contained.",
		references:  []string{refOWASPFiles, "https://cwe.mitre.org/data/definitions/538.html"},
	},
	RuleDirectoryListing: {
		title:       "Directory listing enabled",
		severity:    findings.SeverityMedium,
		cwes:        []int{548},
		description: "The server generates an index of a directory's files, exposing backups, configuration and other files that were never meant to be linked.",
		remediation: "Disable automatic indexes (Apache: Options -Indexes; nginx: autoindex off; Go: wrap http.FileServer to refuse directories) and serve an index page or 403 instead.",
		references:  []string{"https://cwe.mitre.org/data/definitions/548.html", "https://owasp.org/www-project-web-security-testing-guide/latest/4-Web_Application_Security_Testing/02-Configuration_and_Deployment_Management_Testing/"},
	},
}
