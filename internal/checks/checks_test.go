package checks

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secureops/secureops/internal/findings"
)

func ruleIDs(fs []findings.Finding) []string {
	ids := []string{}
	for _, f := range fs {
		ids = append(ids, f.RuleID)
	}
	return ids
}

// checkCommon asserts what every result must satisfy whatever the scenario.
func checkCommon(t *testing.T, in Input, fs []findings.Finding) {
	t.Helper()
	fps := map[string]bool{}
	for i, f := range fs {
		if f.Scanner != ScannerName || f.Fingerprint == "" || f.Title == "" || !f.Severity.Valid() ||
			f.Description == "" || f.Remediation == "" || len(f.References) == 0 || len(f.CWEs) == 0 || f.Evidence == "" {
			t.Errorf("incomplete finding: %+v", f)
		}
		if f.Host != in.Host || f.Port != int(in.Addr.Port()) || f.Protocol != "tcp" {
			t.Errorf("%s: location %s:%d/%s, want %s:%d/tcp", f.RuleID, f.Host, f.Port, f.Protocol, in.Host, in.Addr.Port())
		}
		if strings.HasPrefix(f.RuleID, "tls-") != (f.URL == "") {
			t.Errorf("%s: URL %q: TLS findings are per endpoint, HTTP findings per URL", f.RuleID, f.URL)
		}
		if fps[f.Fingerprint] {
			t.Errorf("duplicate fingerprint for %s at %s", f.RuleID, f.Location())
		}
		fps[f.Fingerprint] = true
		if i > 0 {
			p := fs[i-1]
			if p.RuleID > f.RuleID || p.RuleID == f.RuleID && (p.Location() > f.Location() || p.Location() == f.Location() && p.Evidence >= f.Evidence) {
				t.Errorf("results not sorted by rule, location, evidence: %s %s before %s %s", p.RuleID, p.Location(), f.RuleID, f.Location())
			}
		}
	}
}

func find(fs []findings.Finding, ruleID string) *findings.Finding {
	for i := range fs {
		if fs[i].RuleID == ruleID {
			return &fs[i]
		}
	}
	return nil
}

func TestTLS(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	leaf := func(spec certSpec) tls.Certificate {
		if spec.cn == "" {
			spec.cn = "localhost"
		}
		if spec.dns == nil && spec.ips == nil {
			spec.dns = []string{"localhost"}
		}
		return chain(issue(t, spec, p.ca), p.ca)
	}
	good := leaf(certSpec{})
	selfSigned := chain(issue(t, certSpec{cn: "localhost", dns: []string{"localhost"}}, nil))
	otherCA := chain(issue(t, certSpec{cn: "localhost", dns: []string{"localhost"}}, p.otherCA), p.otherCA)

	tests := []struct {
		name  string
		cert  tls.Certificate
		tune  func(*tls.Config)
		host  string
		clock time.Time
		want  []string
		check func(t *testing.T, fs []findings.Finding)
	}{
		{name: "good certificate, TLS 1.2+ server", cert: good,
			tune: func(c *tls.Config) { c.MinVersion = tls.VersionTLS12 }, want: nil},
		{name: "TLS 1.3 only", cert: good,
			tune: func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 }, want: nil},
		{name: "IP host with IP SAN", cert: leaf(certSpec{ips: []net.IP{net.IPv4(127, 0, 0, 1)}}), host: "127.0.0.1", want: nil},
		{name: "expired", cert: leaf(certSpec{notBefore: now.Add(-400 * 24 * time.Hour), notAfter: now.Add(-24 * time.Hour)}),
			want: []string{RuleTLSExpired},
			check: func(t *testing.T, fs []findings.Finding) {
				if f := find(fs, RuleTLSExpired); !strings.Contains(f.Evidence, "not after: ") || !strings.Contains(f.Evidence, "subject: CN=localhost") {
					t.Errorf("evidence lacks subject/expiry: %s", f.Evidence)
				}
			}},
		{name: "not yet valid", cert: leaf(certSpec{notBefore: now.Add(24 * time.Hour), notAfter: now.Add(400 * 24 * time.Hour)}),
			want: []string{RuleTLSNotYetValid}},
		{name: "expires within 30 days", cert: good, clock: good.Leaf.NotAfter.Add(-10 * 24 * time.Hour),
			want: []string{RuleTLSExpiringSoon},
			check: func(t *testing.T, fs []findings.Finding) {
				if f := find(fs, RuleTLSExpiringSoon); f.Severity != findings.SeverityLow {
					t.Errorf("severity %s, want low", f.Severity)
				}
			}},
		{name: "wrong host name", cert: leaf(certSpec{cn: "other.example", dns: []string{"other.example", "www.other.example"}}),
			want: []string{RuleTLSHostnameMismatch}},
		{name: "IP host, name-only certificate", cert: good, host: "127.0.0.1",
			want: []string{RuleTLSHostnameMismatch}},
		{name: "self-signed", cert: selfSigned, want: []string{RuleTLSSelfSigned}},
		{name: "issued by an untrusted CA", cert: otherCA, want: []string{RuleTLSUntrustedIssuer},
			check: func(t *testing.T, fs []findings.Finding) {
				if f := find(fs, RuleTLSUntrustedIssuer); !strings.Contains(f.Evidence, "Unknown Test Root") {
					t.Errorf("evidence does not name the issuer: %s", f.Evidence)
				}
			}},
		{name: "expired and self-signed and wrong name",
			cert: chain(issue(t, certSpec{cn: "old.example", dns: []string{"old.example"}, notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-time.Hour)}, nil)),
			want: []string{RuleTLSExpired, RuleTLSHostnameMismatch, RuleTLSSelfSigned}},
		{name: "TLS 1.0 to 1.2", cert: good,
			tune: func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS12 },
			want: []string{RuleTLS10, RuleTLS11}},
		{name: "TLS 1.1 only", cert: good,
			tune: func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS11, tls.VersionTLS11 },
			want: []string{RuleTLS11}},
		{name: "weak ciphers", cert: good,
			tune: func(c *tls.Config) {
				c.CipherSuites = []uint16{
					tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
					tls.TLS_RSA_WITH_AES_128_CBC_SHA,
					tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
				}
			},
			want: []string{RuleTLSWeakCipher},
			check: func(t *testing.T, fs []findings.Finding) {
				f := find(fs, RuleTLSWeakCipher)
				for _, s := range []string{"TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"} {
					if !strings.Contains(f.Evidence, s) {
						t.Errorf("evidence lacks %s: %s", s, f.Evidence)
					}
				}
				if strings.Contains(f.Evidence, "RC4") || strings.Contains(f.Evidence, "GCM_SHA256 (") {
					t.Errorf("evidence lists suites the server refuses: %s", f.Evidence)
				}
				if f.Severity != findings.SeverityMedium {
					t.Errorf("severity %s, want medium (3DES is the worst accepted)", f.Severity)
				}
			}},
		{name: "RC4", cert: good,
			tune: func(c *tls.Config) {
				c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA}
			},
			want: []string{RuleTLSWeakCipher},
			check: func(t *testing.T, fs []findings.Finding) {
				if f := find(fs, RuleTLSWeakCipher); f.Severity != findings.SeverityHigh {
					t.Errorf("severity %s, want high for RC4", f.Severity)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert := tt.cert
			addr := serve(t, site(nil), &cert, tt.tune)
			host := tt.host
			if host == "" {
				host = "localhost"
			}
			in := Input{Host: host, Addr: addr, TLS: true, BasePath: "/"}
			opts := Options{Timeout: 5 * time.Second, RootCAs: p.pool}
			if !tt.clock.IsZero() {
				opts.Now = func() time.Time { return tt.clock }
			}
			fs, err := Run(context.Background(), in, opts)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkCommon(t, in, fs)
			if got := ruleIDs(fs); !slices.Equal(got, append([]string{}, tt.want...)) {
				t.Errorf("rules = %v, want %v", got, tt.want)
				for _, f := range fs {
					t.Logf("%s: %s", f.RuleID, f.Evidence)
				}
			}
			if tt.check != nil {
				tt.check(t, fs)
			}
		})
	}
}

func TestHTTP(t *testing.T) {
	p := newPKI(t)
	good := chain(issue(t, certSpec{cn: "localhost", dns: []string{"localhost"}}, p.ca), p.ca)

	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Add("Set-Cookie", "sid=abc123; Path=/")
		w.Header().Add("Set-Cookie", "theme=dark; Path=/; HttpOnly; SameSite=Lax")
		w.Header().Add("Set-Cookie", "old=; Path=/; Max-Age=0")
		_, _ = io.WriteString(w, "<html><body>hi</body></html>")
	})
	bareWant := []string{
		RuleCookieMissingHTTPOnly, RuleCookieMissingSameSite,
		RuleMissingCSP, RuleMissingReferrerPolicy, RuleMissingXContentTypeOptions, RuleMissingXFrameOptions,
	}

	fileRoot := t.TempDir()
	if err := os.WriteFile(filepath.Join(fileRoot, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fileServer := http.FileServer(http.Dir(fileRoot))

	softHTML := "<!doctype html><html><head><title>App</title></head><body><div id=root></div></body></html>"

	var offHostSeen atomic.Bool
	var chainHops atomic.Int32

	tests := []struct {
		name     string
		h        http.Handler
		tls      bool
		basePath string
		want     []string
		check    func(t *testing.T, fs []findings.Finding)
	}{
		{name: "bare http", h: bare, want: bareWant,
			check: func(t *testing.T, fs []findings.Finding) {
				f := find(fs, RuleCookieMissingHTTPOnly)
				if !strings.Contains(f.Evidence, `"sid"`) || strings.Contains(f.Evidence, "theme") || strings.Contains(f.Evidence, `"old"`) {
					t.Errorf("httponly evidence should name sid only: %s", f.Evidence)
				}
				if strings.Contains(f.Evidence, "abc123") {
					t.Errorf("cookie value leaked into evidence: %s", f.Evidence)
				}
				if f := find(fs, RuleMissingCSP); !strings.Contains(f.Evidence, "Content-Security-Policy: (absent)") {
					t.Errorf("header evidence: %s", f.Evidence)
				}
			}},
		{name: "bare https", h: bare, tls: true,
			// One finding per cookie: sid and theme both lack Secure.
			want: slices.Sorted(slices.Values(append([]string{RuleCookieMissingSecure, RuleCookieMissingSecure, RuleMissingHSTS}, bareWant...)))},
		{name: "hardened http, CSP frame-ancestors instead of X-Frame-Options",
			h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
				w.Header().Set("X-Content-Type-Options", "nosniff")
				w.Header().Set("Referrer-Policy", "foo, no-referrer")
				w.Header().Add("Set-Cookie", "sid=1; HttpOnly; SameSite=Strict")
				if r.URL.Path != "/" {
					http.NotFound(w, r)
				}
			}),
			want: nil},
		{name: "ineffective headers over https", tls: true,
			h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hardened(w)
				w.Header().Set("Strict-Transport-Security", "max-age=0")
				w.Header().Del("Content-Security-Policy")
				w.Header().Set("Content-Security-Policy-Report-Only", "default-src 'self'")
				w.Header().Set("X-Frame-Options", "ALLOW-FROM https://example.com")
				w.Header().Set("Referrer-Policy", "unsafe-url")
				w.Header().Add("Set-Cookie", "sid=1; Secure; HttpOnly; SameSite=Bogus")
				if r.URL.Path != "/" {
					http.NotFound(w, r)
				}
			}),
			want: []string{RuleCookieMissingSameSite, RuleMissingCSP, RuleMissingHSTS, RuleMissingReferrerPolicy, RuleMissingXFrameOptions}},
		{name: "exposed .git and .env",
			h: site(map[string]string{
				"/.git/HEAD": "ref: refs/heads/main\n",
				"/.env":      "# production\nAPP_ENV=production\nDB_PASSWORD=hunter2-very-secret\nexport API_KEY=\"sk_live_123\"\n",
			}),
			want: []string{RuleExposedEnv, RuleExposedGit},
			check: func(t *testing.T, fs []findings.Finding) {
				env := find(fs, RuleExposedEnv)
				if strings.Contains(env.Evidence, "hunter2") || strings.Contains(env.Evidence, "sk_live") {
					t.Errorf("secret leaked into evidence: %s", env.Evidence)
				}
				if !strings.Contains(env.Evidence, "DB_PASSWORD=<redacted") || !strings.HasSuffix(env.URL, "/.env") {
					t.Errorf("env finding: %s %s", env.URL, env.Evidence)
				}
				if env.Severity != findings.SeverityCritical {
					t.Errorf("env severity %s", env.Severity)
				}
				if git := find(fs, RuleExposedGit); !strings.Contains(git.Evidence, "ref: refs/heads/main") || !strings.HasSuffix(git.URL, "/.git/HEAD") {
					t.Errorf("git finding: %s %s", git.URL, git.Evidence)
				}
			}},
		{name: "detached HEAD at the root, .env under the base path", basePath: "/app",
			h: site(map[string]string{
				"/app":       "<html>app</html>",
				"/.git/HEAD": "0123456789abcdef0123456789abcdef01234567",
				"/app/.env":  "SECRET_KEY=abc",
			}),
			want: []string{RuleExposedEnv, RuleExposedGit}},
		{name: ".env answered with an HTML page",
			h:    site(map[string]string{"/.env": "<html><body>Not here, try <a href=/>home</a></body></html>", "/.git/HEAD": "<html>nope</html>"}),
			want: nil},
		{name: "soft 404: the same page for every path",
			h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hardened(w)
				_, _ = io.WriteString(w, softHTML)
			}),
			want: nil},
		{name: "soft 404 in KEY=VALUE form echoing the path",
			h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hardened(w)
				_, _ = io.WriteString(w, "status=not_found\npath="+r.URL.Path+"\n")
			}),
			want: nil},
		{name: "Go file server listing",
			h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hardened(w)
				fileServer.ServeHTTP(w, r)
			}),
			want: []string{RuleDirectoryListing},
			check: func(t *testing.T, fs []findings.Finding) {
				if f := find(fs, RuleDirectoryListing); !strings.Contains(f.Evidence, "notes.txt") {
					t.Errorf("listing evidence: %s", f.Evidence)
				}
			}},
		{name: "nginx autoindex under /static/",
			h: site(map[string]string{
				"/static/": "<html>\r\n<head><title>Index of /static/</title></head>\r\n<body>\r\n<h1>Index of /static/</h1><hr><pre><a href=\"../\">../</a>\r\n</pre><hr></body>\r\n</html>",
			}),
			want: []string{RuleDirectoryListing},
			check: func(t *testing.T, fs []findings.Finding) {
				if f := find(fs, RuleDirectoryListing); !strings.HasSuffix(f.URL, "/static/") {
					t.Errorf("listing URL %s", f.URL)
				}
			}},
		{name: "same-host redirect followed, cookies on the hop checked",
			h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/":
					w.Header().Add("Set-Cookie", "pref=1; Path=/")
					http.Redirect(w, r, "/home", http.StatusFound)
				case "/home":
					hardened(w)
					_, _ = io.WriteString(w, "<html>home</html>")
				default:
					http.NotFound(w, r)
				}
			}),
			want: []string{RuleCookieMissingHTTPOnly, RuleCookieMissingSameSite},
			check: func(t *testing.T, fs []findings.Finding) {
				if f := find(fs, RuleCookieMissingHTTPOnly); !strings.HasSuffix(f.URL, "/home") || !strings.Contains(f.Evidence, `"pref"`) {
					t.Errorf("cookie finding %s: %s", f.URL, f.Evidence)
				}
			}},
		{name: "off-host redirect not followed",
			h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasPrefix(r.Host, "localhost") {
					offHostSeen.Store(true)
				}
				if r.URL.Path == "/" {
					http.Redirect(w, r, "http://evil.example/", http.StatusFound)
					return
				}
				http.NotFound(w, r)
			}),
			want: []string{RuleMissingCSP, RuleMissingReferrerPolicy, RuleMissingXContentTypeOptions, RuleMissingXFrameOptions},
			check: func(t *testing.T, fs []findings.Finding) {
				if offHostSeen.Load() {
					t.Error("an off-host redirect was followed")
				}
				if f := find(fs, RuleMissingCSP); !strings.Contains(f.Evidence, "-> 302") {
					t.Errorf("the redirect itself should be judged: %s", f.Evidence)
				}
			}},
		{name: "same-host redirect chain stops after 3 hops",
			h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/r") || r.URL.Path == "/" {
					chainHops.Add(1)
					hardened(w)
					http.Redirect(w, r, "/r"+r.URL.Path[1:]+"x", http.StatusFound)
					return
				}
				http.NotFound(w, r)
			}),
			want: nil,
			check: func(t *testing.T, fs []findings.Finding) {
				// Only the base page redirects (probes do not start with /r):
				// the first request plus three followed hops.
				if n := chainHops.Load(); n != 4 {
					t.Errorf("base page requests = %d, want 4", n)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cert *tls.Certificate
			if tt.tls {
				cert = &good
			}
			in := Input{Host: "localhost", Addr: serve(t, tt.h, cert, nil), TLS: tt.tls, BasePath: tt.basePath}
			fs, err := Run(context.Background(), in, Options{Timeout: 5 * time.Second, RootCAs: p.pool})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkCommon(t, in, fs)
			if got := ruleIDs(fs); !slices.Equal(got, append([]string{}, tt.want...)) {
				t.Errorf("rules = %v, want %v", got, tt.want)
				for _, f := range fs {
					t.Logf("%s %s: %s", f.RuleID, f.URL, f.Evidence)
				}
			}
			if tt.check != nil {
				tt.check(t, fs)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	p := newPKI(t)
	good := chain(issue(t, certSpec{cn: "localhost", dns: []string{"localhost"}}, p.ca), p.ca)
	for _, tc := range []struct {
		tls  bool
		want []string
	}{
		{false, []string{"http-headers", "exposed-files", "directory-listing"}},
		{true, []string{"tls-certificate", "tls-versions", "tls-ciphers", "http-headers", "exposed-files", "directory-listing"}},
	} {
		var cert *tls.Certificate
		if tc.tls {
			cert = &good
		}
		var got []string
		var mu sync.Mutex
		in := Input{Host: "localhost", Addr: serve(t, site(nil), cert, nil), TLS: tc.tls}
		_, err := Run(context.Background(), in, Options{RootCAs: p.pool, Progress: func(done, total int, check string) {
			mu.Lock()
			defer mu.Unlock()
			if done != len(got)+1 || total != len(tc.want) {
				t.Errorf("progress(%d, %d), want (%d, %d)", done, total, len(got)+1, len(tc.want))
			}
			got = append(got, check)
		}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("tls=%v: progress %v, want %v", tc.tls, got, tc.want)
		}
	}
}

// hangingListener accepts connections and never says anything, like a
// firewall that black-holes after the SYN.
func hangingListener(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return netip.MustParseAddrPort(ln.Addr().String())
}

func TestCancellation(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slowHTTP := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}), nil, nil)

	for _, tc := range []struct {
		name string
		in   Input
	}{
		{"HTTP response never comes", Input{Host: "localhost", Addr: slowHTTP}},
		{"TLS handshake never completes", Input{Host: "localhost", Addr: hangingListener(t), TLS: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			start := time.Now()
			_, err := Run(ctx, tc.in, Options{Timeout: 30 * time.Second})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Run returned %s after cancellation", d)
			}
		})
	}

	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		fs, err := Run(ctx, Input{Host: "localhost", Addr: slowHTTP}, Options{})
		if !errors.Is(err, context.Canceled) || len(fs) != 0 {
			t.Errorf("Run = %v, %v; want no findings and context.Canceled", fs, err)
		}
	})
}

func TestErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	plain := serve(t, site(nil), nil, nil)

	for _, tc := range []struct {
		name string
		in   Input
	}{
		{"no address", Input{Host: "localhost"}},
		{"host with a path", Input{Host: "evil.example/x", Addr: plain}},
		{"nothing listening", Input{Host: "localhost", Addr: closed}},
		{"TLS to a plain HTTP server", Input{Host: "localhost", Addr: plain, TLS: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(context.Background(), tc.in, Options{Timeout: 2 * time.Second}); err == nil {
				t.Error("Run succeeded, want an error")
			}
		})
	}
}

func TestTimeoutPerOperation(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}), nil, nil)
	start := time.Now()
	_, err := Run(context.Background(), Input{Host: "localhost", Addr: addr}, Options{Timeout: 300 * time.Millisecond})
	if err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want a timeout error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s with a 300ms timeout", d)
	}
}

func TestHelpers(t *testing.T) {
	for _, tc := range []struct {
		in, base, dir string
	}{
		{"", "/", "/"},
		{"/", "/", "/"},
		{"/app", "/app", "/app/"},
		{"/app/", "/app/", "/app/"},
		{"/app/index.php", "/app/index.php", "/app/"},
		{"/index.html", "/index.html", "/"},
		{"app//x/../y", "/app/y", "/app/y/"},
		{"/a?q=1", "/a", "/a/"},
	} {
		if b, d := basePaths(tc.in); b != tc.base || d != tc.dir {
			t.Errorf("basePaths(%q) = %q, %q; want %q, %q", tc.in, b, d, tc.base, tc.dir)
		}
	}

	for body, want := range map[string]bool{
		"ref: refs/heads/main\n":                        true,
		"0123456789abcdef0123456789abcdef01234567":      true,
		"ref: refs/heads/main\n<html>":                  false,
		"<html>ref: refs/heads/main</html>":             false,
		"0123456789abcdef0123456789abcdef0123456":       false,
		strings.Repeat("0123456789abcdef", 4) + "\n\n ": true,
	} {
		if got := looksLikeGitHead([]byte(body)); got != want {
			t.Errorf("looksLikeGitHead(%q) = %v", body, got)
		}
	}

	for body, want := range map[string]bool{
		"A=1":                        true,
		"# c\nA=1\nexport B='x y'\n": true,
		"<!DOCTYPE html>\nA=1":       false,
		`{"A":"1"}`:                  false,
		"hello world\nA=1\nfoo bar":  false,
		"":                           false,
		"Not Found":                  false,
	} {
		if got := looksLikeDotenv([]byte(body)); got != want {
			t.Errorf("looksLikeDotenv(%q) = %v", body, got)
		}
	}

	for _, tc := range []struct {
		vals []string
		want bool
	}{
		{nil, false},
		{[]string{"max-age=31536000"}, true},
		{[]string{`max-age="31536000"; includeSubDomains`}, true},
		{[]string{"max-age=0"}, false},
		{[]string{"includeSubDomains"}, false},
		{[]string{"max-age=abc"}, false},
	} {
		if got := hstsEffective(tc.vals); got != tc.want {
			t.Errorf("hstsEffective(%q) = %v", tc.vals, got)
		}
	}

	for _, tc := range []struct {
		xfo, csp []string
		want     bool
	}{
		{nil, nil, false},
		{[]string{"DENY"}, nil, true},
		{[]string{"sameorigin"}, nil, true},
		{[]string{"DENY", "SAMEORIGIN"}, nil, true},
		{[]string{"ALLOW-FROM https://a"}, nil, false},
		{[]string{"DENY, ALLOWALL"}, nil, false},
		{nil, []string{"default-src 'self'; frame-ancestors 'self'"}, true},
		{nil, []string{"default-src 'self'"}, false},
	} {
		if got := frameProtected(tc.xfo, tc.csp); got != tc.want {
			t.Errorf("frameProtected(%q, %q) = %v", tc.xfo, tc.csp, got)
		}
	}

	for _, body := range []string{"<html><title>Index of /</title>", "<title>Directory listing for /x/</title>", "<pre>\n<a href=\"a\">a</a>\n</pre>\n"} {
		if directoryListing([]byte(body)) == "" {
			t.Errorf("listing not recognised: %q", body)
		}
	}
	for _, body := range []string{"<html><title>Welcome</title><pre>code</pre>", "Index of things", "<pre>\n<a href=\"a\">a</a>\n</pre>\n<p>more</p>"} {
		if s := directoryListing([]byte(body)); s != "" {
			t.Errorf("%q taken for a %s listing", body, s)
		}
	}
}
