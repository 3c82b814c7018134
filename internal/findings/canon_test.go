package findings_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/parsers"
)

// fixture returns the finding of a report in ../parsers/testdata/scans (the
// shared DefectDojo fixtures) or testdata/ whose rule id or title is pick.
func fixture(t *testing.T, scanner, file, pick string) findings.Finding {
	t.Helper()
	path := filepath.Join("..", "parsers", "testdata", "scans", file)
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join("testdata", file)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := parsers.Parse(scanner, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.RuleID == pick || f.Title == pick {
			return f
		}
	}
	t.Fatalf("%s: no finding %q", file, pick)
	return findings.Finding{}
}

// native is a finding as our checks (internal/checks) report it.
func native(rule, host string, port int, url, evidence string) findings.Finding {
	f := findings.Finding{Title: "native " + rule, Severity: findings.SeverityMedium, Host: host, Port: port, Protocol: "tcp",
		URL: url, Scanner: "secureops", RuleID: rule, Evidence: evidence}
	f.Normalize()
	return f
}

func lit(f findings.Finding) findings.Finding {
	f.Normalize()
	return f
}

// Each shared check: two scanners' findings of the same issue at the same
// place are one fingerprint; findings that merely look alike are not.
func TestCanonicalSharedChecks(t *testing.T) {
	const dvwa = "zap/dvwa_baseline_dojo.xml"
	const zapSome = "zap/some_2.9.0.xml"
	// nikto 2.1.5 with our scanner's arguments (activities/scanner niktoArgs)
	// against python3 -m http.server serving /.git/ on 127.0.0.1:18931, by
	// address and with -vhost app.example.test.
	const loop = "nikto-loopback.xml"
	tests := []struct {
		name string
		a, b findings.Finding
		same bool
		key  string // a's canonical key
	}{
		// Missing security headers, by header, per origin.
		{name: "x-frame-options zap+native", key: "header-missing:x-frame-options", same: true,
			a: fixture(t, "zap", dvwa, "10020"),
			b: native("http-missing-x-frame-options", "172.17.0.2", 80, "http://172.17.0.2/", "")},
		{name: "x-frame-options nikto+native", key: "header-missing:x-frame-options", same: true,
			a: fixture(t, "nikto", loop, "The anti-clickjacking X-Frame-Options header is not present."),
			b: native("http-missing-x-frame-options", "127.0.0.1", 18931, "http://127.0.0.1:18931/", "")},
		// nikto scanned by address with -vhost (as our scanner runs it) names
		// the site, as the native checks do.
		{name: "x-frame-options nikto vhost+native by name", key: "header-missing:x-frame-options", same: true,
			a: fixture(t, "nikto", "nikto-vhost.xml", "The anti-clickjacking X-Frame-Options header is not present."),
			b: native("http-missing-x-frame-options", "app.example.test", 18931, "http://app.example.test:18931/", "")},
		{name: "git nikto vhost+native by name", key: "exposed-file:git", same: true,
			a: fixture(t, "nikto", "nikto-vhost.xml", "/.git/index: Git Index file may contain directory listing information."),
			b: native("exposed-git", "app.example.test", 18931, "http://app.example.test:18931/.git/HEAD", "")},
		{name: "x-frame-options on another port", key: "header-missing:x-frame-options",
			a: fixture(t, "nikto", loop, "The anti-clickjacking X-Frame-Options header is not present."),
			b: native("http-missing-x-frame-options", "127.0.0.1", 18932, "http://127.0.0.1:18932/", "")},
		{name: "x-frame-options is not csp", key: "header-missing:x-frame-options",
			a: fixture(t, "zap", dvwa, "10020"),
			b: native("http-missing-csp", "172.17.0.2", 80, "http://172.17.0.2/", "")},
		{name: "csp zap+native", key: "header-missing:content-security-policy", same: true,
			a: fixture(t, "zap", dvwa, "10038"),
			b: native("http-missing-csp", "172.17.0.2", 80, "http://172.17.0.2/login", "")},
		{name: "x-content-type-options zap+native", key: "header-missing:x-content-type-options", same: true,
			a: fixture(t, "zap", dvwa, "10021"),
			b: native("http-missing-x-content-type-options", "172.17.0.2", 80, "http://172.17.0.2/", "")},
		{name: "hsts nikto json+native", key: "header-missing:strict-transport-security", same: true,
			a: fixture(t, "nikto", "nikto/juice-shop.json", "The site uses SSL and the Strict-Transport-Security HTTP header is not defined."),
			b: native("http-missing-hsts", "juice-shop.herokuapp.com", 443, "https://juice-shop.herokuapp.com/", "")},
		{name: "hsts on another host", key: "header-missing:strict-transport-security",
			a: fixture(t, "nikto", "nikto/juice-shop.json", "The site uses SSL and the Strict-Transport-Security HTTP header is not defined."),
			b: native("http-missing-hsts", "shop.herokuapp.com", 443, "https://shop.herokuapp.com/", "")},

		// Cookie flags, by cookie.
		{name: "httponly zap+native", key: "cookie-no-httponly:opvc", same: true,
			a: fixture(t, "zap", zapSome, "10010"),
			b: native("cookie-missing-httponly", "mainsite.com", 443, "https://mainsite.com/", `cookie "opvc" set by https://mainsite.com/: Path=/`)},
		{name: "httponly, another cookie", key: "cookie-no-httponly:opvc",
			a: fixture(t, "zap", zapSome, "10010"),
			b: native("cookie-missing-httponly", "mainsite.com", 443, "https://mainsite.com/", `cookie "session" set by https://mainsite.com/: Path=/`)},
		{name: "secure zap+nikto", key: "cookie-no-secure:opvc", same: true,
			a: fixture(t, "zap", zapSome, "10011"),
			b: lit(findings.Finding{Title: "Cookie opvc created without the secure flag", Scanner: "nikto", Host: "mainsite.com", Port: 443,
				URL: "https://mainsite.com:443/", Evidence: "Request: GET /\nNikto test: 999961"})},
		{name: "secure is not httponly", key: "cookie-no-secure:opvc",
			a: fixture(t, "zap", zapSome, "10011"),
			b: fixture(t, "zap", zapSome, "10010")},
		{name: "samesite zap+native", key: "cookie-no-samesite:sitevisitscookie", same: true,
			a: fixture(t, "zap", zapSome, "10054"),
			b: native("cookie-missing-samesite", "mainsite.com", 443, "https://mainsite.com/account", `cookie "sitevisitscookie" set by https://mainsite.com/account: (no attributes)`)},

		// TLS protocol versions and weak ciphers.
		{name: "tls 1.0 native+nuclei", key: "tls-version:1.0", same: true,
			a: native("tls-1.0", "www.asdf.de", 443, "", "handshake completed"),
			b: lit(findings.Finding{Title: "Deprecated TLS Detection", Scanner: "nuclei", RuleID: "deprecated-tls:tls_1.0", Host: "www.asdf.de", Port: 443})},
		{name: "tls 1.0 is not 1.1", key: "tls-version:1.0",
			a: native("tls-1.0", "www.asdf.de", 443, "", "handshake completed"),
			b: lit(findings.Finding{Title: "Deprecated TLS Detection", Scanner: "nuclei", RuleID: "deprecated-tls:tls_1.1", Host: "www.asdf.de", Port: 443})},
		{name: "tls version detection is not deprecated tls", key: "tls-version:1.0",
			a: native("tls-1.0", "www.asdf.de", 443, "", "handshake completed"),
			b: fixture(t, "nuclei", "nuclei/multiple_v3.json", "tls-version")},
		{name: "weak ciphers native+nuclei", key: "tls-weak-cipher", same: true,
			a: native("tls-weak-cipher", "www.asdf.de", 443, "", "accepted"),
			b: lit(findings.Finding{Title: "Weak Cipher Suites Detection", Scanner: "nuclei", RuleID: "weak-cipher-suites:tls-1.2", Host: "www.asdf.de", Port: 443})},

		// Certificate problems.
		{name: "self-signed native+nuclei", key: "cert-self-signed", same: true,
			a: native("tls-self-signed", "www.asdf.de", 443, "", "issuer = subject"),
			b: lit(findings.Finding{Title: "Self Signed SSL Certificate", Scanner: "nuclei", RuleID: "self-signed-ssl", Host: "www.asdf.de", Port: 443})},
		{name: "expired native+nuclei", key: "cert-expired", same: true,
			a: native("tls-expired", "www.asdf.de", 443, "", "expired"),
			b: lit(findings.Finding{Title: "Expired SSL Certificate", Scanner: "nuclei", RuleID: "expired-ssl", Host: "www.asdf.de", Port: 443})},
		{name: "expired is not self-signed", key: "cert-expired",
			a: native("tls-expired", "www.asdf.de", 443, "", "expired"),
			b: native("tls-self-signed", "www.asdf.de", 443, "", "issuer = subject")},
		{name: "name mismatch native+nikto", key: "cert-name-mismatch", same: true,
			a: native("tls-hostname-mismatch", "www.asdf.de", 443, "", "host: www.asdf.de"),
			b: lit(findings.Finding{Title: "Hostname 'www.asdf.de' does not match certificate's names: asdf.de", Scanner: "nikto", Host: "www.asdf.de", Port: 443,
				URL: "https://www.asdf.de:443/"})},
		{name: "untrusted native+nuclei", key: "cert-untrusted", same: true,
			a: native("tls-untrusted-issuer", "www.asdf.de", 443, "", "unknown authority"),
			b: lit(findings.Finding{Title: "Untrusted Root Certificate", Scanner: "nuclei", RuleID: "untrusted-root-certificate", Host: "www.asdf.de", Port: 443})},

		// Exposed VCS / config files, by family, under their directory.
		{name: "git nikto+native", key: "exposed-file:git", same: true,
			a: fixture(t, "nikto", loop, "/.git/index: Git Index file may contain directory listing information."),
			b: native("exposed-git", "127.0.0.1", 18931, "http://127.0.0.1:18931/.git/HEAD", "")},
		{name: "git nikto json (no url)+nuclei", key: "exposed-file:git", same: true,
			a: lit(findings.Finding{Title: "/.git/config: Git config file found. Infos about repo details may be present.", Scanner: "nikto",
				Host: "shop.example", Port: 443, Evidence: "GET /.git/config"}),
			b: lit(findings.Finding{Title: "Git Config File", Scanner: "nuclei", RuleID: "git-config", Host: "shop.example", Port: 443,
				URL: "https://shop.example/.git/config"})},
		{name: "git in another directory", key: "exposed-file:git",
			a: fixture(t, "nikto", loop, "/.git/index: Git Index file may contain directory listing information."),
			b: native("exposed-git", "127.0.0.1", 18931, "http://127.0.0.1:18931/app/.git/HEAD", "")},
		{name: "git is not env", key: "exposed-file:git",
			a: fixture(t, "nikto", loop, "/.git/index: Git Index file may contain directory listing information."),
			b: native("exposed-env", "127.0.0.1", 18931, "http://127.0.0.1:18931/.env", "")},
		{name: "env native+nuclei", key: "exposed-file:env", same: true,
			a: native("exposed-env", "shop.example", 443, "https://shop.example/.env", ""),
			b: lit(findings.Finding{Title: "Generic Env File Disclosure", Scanner: "nuclei", RuleID: "generic-env", Host: "shop.example", Port: 443,
				URL: "https://shop.example:443/.env"})},

		// Directory listing, per directory.
		{name: "listing native+nikto", key: "directory-listing", same: true,
			a: native("directory-listing", "127.0.0.1", 18931, "http://127.0.0.1:18931/static/", ""),
			b: lit(findings.Finding{Title: "OSVDB-3268: /static/: Directory indexing found.", Scanner: "nikto", Host: "127.0.0.1", Port: 18931,
				URL: "http://127.0.0.1:18931/static/"})},
		{name: "listing of another directory", key: "directory-listing",
			a: native("directory-listing", "127.0.0.1", 18931, "http://127.0.0.1:18931/static/", ""),
			b: lit(findings.Finding{Title: "OSVDB-3268: /images/: Directory indexing found.", Scanner: "nikto", Host: "127.0.0.1", Port: 18931,
				URL: "http://127.0.0.1:18931/images/"})},

		// Outdated server banners.
		{name: "outdated banner nikto+nuclei", key: "outdated-server", same: true,
			a: fixture(t, "nikto", loop, "SimpleHTTP/0.6 appears to be outdated (current is at least 1.2)"),
			b: lit(findings.Finding{Title: "Outdated Python SimpleHTTP", Scanner: "nuclei", RuleID: "simplehttp-outdated", Host: "127.0.0.1", Port: 18931})},

		// Open ports and services.
		{name: "open port nmap+nuclei", key: "open-port", same: true,
			a: fixture(t, "nmap", "nmap/nmap_1port.xml", "open-port"),
			b: lit(findings.Finding{Title: "PostgreSQL Detection", Scanner: "nuclei", RuleID: "pgsql-detect", Host: "127.0.0.1", Port: 5432, Protocol: "tcp"})},
		{name: "ssh service nuclei+nmap", key: "open-port", same: true,
			a: fixture(t, "nuclei", "nuclei/many_findings.json", "openssh5.3-detect"),
			b: lit(findings.Finding{Title: "Open port 22/tcp: ssh", Scanner: "nmap", RuleID: "open-port", Host: "nuclei-example.com", Port: 22, Protocol: "tcp"})},
		{name: "a web technology is not a service", key: "open-port",
			a: fixture(t, "nuclei", "nuclei/many_findings.json", "openssh5.3-detect"),
			b: fixture(t, "nuclei", "nuclei/many_findings.json", "tech-detect:nginx")},
		{name: "open port, another port", key: "open-port",
			a: fixture(t, "nmap", "nmap/nmap_1port.xml", "open-port"),
			b: lit(findings.Finding{Title: "Open port 5433/tcp", Scanner: "nmap", RuleID: "open-port", Host: "127.0.0.1", Port: 5433, Protocol: "tcp"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, ok := findings.Canonical(&tt.a)
			if !ok || ca.Key != tt.key {
				t.Fatalf("%s %q: canonical %+v %v, want key %s", tt.a.Scanner, tt.a.Title, ca, ok, tt.key)
			}
			if tt.same {
				cb, ok := findings.Canonical(&tt.b)
				if !ok || cb != ca {
					t.Fatalf("%s %q: canonical %+v %v, want %+v", tt.b.Scanner, tt.b.Title, cb, ok, ca)
				}
			}
			if got := tt.a.Fingerprint == tt.b.Fingerprint; got != tt.same {
				t.Errorf("same fingerprint = %v, want %v (a %s %q at %s, b %s %q at %s)", got, tt.same,
					tt.a.Scanner, tt.a.Title, tt.a.Location(), tt.b.Scanner, tt.b.Title, tt.b.Location())
			}
		})
	}
}

// Checks only one scanner has, CVE findings and findings without a location
// keep the fingerprints they had.
func TestCanonicalLeavesTheRest(t *testing.T) {
	for _, f := range []findings.Finding{
		fixture(t, "zap", "zap/dvwa_baseline_dojo.xml", "10096"),                                     // timestamp disclosure: ZAP only
		fixture(t, "nikto", "nikto/tdh.json", "Uncommon header 'x-cache' found, with contents: HIT"), // nikto only
		fixture(t, "nmap", "nmap/nmap_script_vulners.xml", "CVE-2018-15919"),
		{Title: "Clickjacking protection missing", Scanner: "secureops", RuleID: "http-missing-x-frame-options"},   // no host
		{Title: "cookie", Scanner: "zap", RuleID: "10010", Host: "a.example", Port: 443, Evidence: "no parameter"}, // no cookie name
	} {
		if c, ok := findings.Canonical(&f); ok {
			t.Errorf("%s %q: canonical %+v, want none", f.Scanner, f.Title, c)
		}
	}
}

// Every row of the table is used by a scanner we know, and each scanner of
// the issue has rows.
func TestCanonicalTableCoversTheScanners(t *testing.T) {
	data, err := os.ReadFile("canon.tsv")
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		per[strings.Split(line, "\t")[0]]++
	}
	for _, s := range []string{"nmap", "nikto", "secureops", "zap", "nuclei"} {
		if per[s] == 0 {
			t.Errorf("no canonical keys for %s", s)
		}
		delete(per, s)
	}
	if len(per) > 0 {
		t.Errorf("rows for unknown scanners: %v", per)
	}
}
