// Package checks is SecureOps' own scanner: a small set of TLS, HTTP header,
// cookie and exposed-file checks that need no external tool. Every network
// operation goes to the one address the caller resolved and checked against
// the scan policy; the registered host name is only ever used as SNI, Host
// header and certificate name, never looked up again, so DNS cannot rebind a
// scan onto an address the policy refused.
package checks

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/secureops/secureops/internal/findings"
)

// ScannerName is the Scanner every finding of this package carries.
const ScannerName = "secureops"

// Input says what to scan.
type Input struct {
	// Host is the name the user registered: SNI, Host header and the name the
	// certificate must match. It may be an IP literal.
	Host string
	// Addr is the address the caller resolved and checked against the scan
	// policy. It is the only address ever dialled.
	Addr netip.AddrPort
	// TLS selects https rather than http.
	TLS bool
	// BasePath is "/" or the path prefix of a URL target.
	BasePath string
}

// Options tune a run; the zero value is usable.
type Options struct {
	// Timeout bounds each network operation (a handshake, a request with its
	// body). Zero means 10s.
	Timeout time.Duration
	// Progress, when set, is called after each check group.
	Progress func(done, total int, check string)
	// Now is the clock certificate validity is judged against; nil means
	// time.Now.
	Now func() time.Time
	// RootCAs are the trust anchors for the chain check; nil means the system
	// roots. Private deployments and tests pass their own CA here.
	RootCAs *x509.CertPool
}

const (
	defaultTimeout = 10 * time.Second
	// maxBody bounds what is read of any response: every decision here needs
	// only the first bytes, and a hostile target must not make us buffer more.
	maxBody = 64 << 10
	// maxRedirects is how many same-target redirects a GET follows before the
	// last response is judged as it is.
	maxRedirects  = 3
	expiryWarning = 30 * 24 * time.Hour
	userAgent     = "SecureOps-Scanner/1.0 (+https://github.com/secureops/secureops)"
)

// Run performs every check that applies to in and returns the findings sorted
// by rule id then location. The error is non-nil when the target could not be
// reached at all or ctx ended; the findings gathered before that are returned
// with it.
func Run(ctx context.Context, in Input, opts Options) (out []findings.Finding, err error) {
	// Targets are hostile input: a bug in a parser must fail this scan, not
	// take the worker (and every other tenant's scan on it) down.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("checks: internal error: %v", r)
		}
	}()
	s, err := newScan(in, opts)
	if err != nil {
		return nil, err
	}
	defer s.transport.CloseIdleConnections()

	type group struct {
		name string
		run  func(context.Context) error
	}
	var groups []group
	if in.TLS {
		groups = append(groups,
			group{"tls-certificate", s.checkCertificate},
			group{"tls-versions", s.checkVersions},
			group{"tls-ciphers", s.checkCiphers},
		)
	}
	groups = append(groups,
		group{"http-headers", s.checkHeaders},
		group{"exposed-files", s.checkExposedFiles},
		group{"directory-listing", s.checkDirectoryListing},
	)
	for i, g := range groups {
		if err := ctx.Err(); err != nil {
			return s.results(), err
		}
		if err := g.run(ctx); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return s.results(), ctxErr
			}
			return s.results(), err
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(groups), g.name)
		}
	}
	return s.results(), nil
}

// scan is the state of one Run.
type scan struct {
	in        Input
	timeout   time.Duration
	now       time.Time
	roots     *x509.CertPool
	sni       string // empty for IP hosts: TLS sends no SNI for addresses
	scheme    string
	authority string // host[:port] as it appears in URLs and the Host header
	basePath  string
	baseDir   string // the directory exposed files are looked for under

	transport *http.Transport
	client    *http.Client

	base      *response                   // the base page, fetched by the header check
	baselines map[string]baselineResponse // per directory, for soft-404s

	found map[string]findings.Finding
}

type baselineResponse struct {
	resp *response
	name string
}

func newScan(in Input, opts Options) (*scan, error) {
	if !in.Addr.IsValid() || in.Addr.Port() == 0 {
		return nil, errors.New("checks: input has no address to dial")
	}
	in.Addr = netip.AddrPortFrom(in.Addr.Addr().Unmap(), in.Addr.Port())
	in.Host = strings.TrimSuffix(strings.TrimSpace(in.Host), ".")
	if h, err := netip.ParseAddr(strings.Trim(in.Host, "[]")); err == nil {
		in.Host = h.Unmap().String()
	}
	if in.Host == "" {
		in.Host = in.Addr.Addr().String()
	}
	if strings.ContainsAny(in.Host, "/?#@ \t\r\n") {
		return nil, fmt.Errorf("checks: %q is not a host name", in.Host)
	}
	s := &scan{
		in:        in,
		timeout:   opts.Timeout,
		roots:     opts.RootCAs,
		scheme:    "http",
		baselines: map[string]baselineResponse{},
		found:     map[string]findings.Finding{},
	}
	if s.timeout <= 0 {
		s.timeout = defaultTimeout
	}
	if opts.Now != nil {
		s.now = opts.Now()
	} else {
		s.now = time.Now()
	}
	defaultPort := uint16(80)
	if in.TLS {
		s.scheme, defaultPort = "https", 443
	}
	if _, err := netip.ParseAddr(in.Host); err != nil {
		s.sni = in.Host
	}
	host := in.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	s.authority = host
	if in.Addr.Port() != defaultPort {
		s.authority += ":" + strconv.Itoa(int(in.Addr.Port()))
	}
	s.basePath, s.baseDir = basePaths(in.BasePath)

	dialer := &net.Dialer{Timeout: s.timeout}
	target := in.Addr.String()
	s.transport = &http.Transport{
		// Proxy stays nil: an environment proxy would resolve the name itself.
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			// Whatever the request says, only the vetted address is dialled.
			return dialer.DialContext(ctx, "tcp", target)
		},
		TLSClientConfig:        s.tlsConfig(),
		TLSHandshakeTimeout:    s.timeout,
		ResponseHeaderTimeout:  s.timeout,
		MaxResponseHeaderBytes: 1 << 20,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        s.timeout,
	}
	s.client = &http.Client{
		Transport: s.transport,
		// Redirects are followed by get, which can tell same-target hops from
		// ones that would leave the vetted address.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s, nil
}

// basePaths returns the cleaned base path and the directory under which
// relative probes go. "/app" is taken to be the application's root
// directory, "/app/index.php" a page inside "/app/".
func basePaths(p string) (basePath, dir string) {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	clean := path.Clean(p)
	if clean == "/" {
		return "/", "/"
	}
	if strings.HasSuffix(p, "/") {
		return clean + "/", clean + "/"
	}
	if strings.Contains(path.Base(clean), ".") {
		d := path.Dir(clean)
		if d != "/" {
			d += "/"
		}
		return clean, d
	}
	return clean, clean + "/"
}

// urlFor builds the absolute URL of a path on the target.
func (s *scan) urlFor(p string) string {
	u := url.URL{Scheme: s.scheme, Host: s.authority, Path: p}
	return u.String()
}

// add records a finding of rule ruleID at the target's TCP endpoint, or at
// pageURL for HTTP checks. An empty severity means the rule's own.
func (s *scan) add(ruleID, pageURL, evidence string, severity findings.Severity) {
	s.addFor(ruleID, pageURL, "", evidence, severity)
}

// addFor is add for a rule that holds one finding per subject at a location
// (a cookie): the subject is in the evidence, which is where the canonical
// key (findings.Canonical) reads it from.
func (s *scan) addFor(ruleID, pageURL, subject, evidence string, severity findings.Severity) {
	r, ok := rules[ruleID]
	if !ok {
		panic("checks: unknown rule " + ruleID)
	}
	if severity == "" {
		severity = r.severity
	}
	f := findings.Finding{
		Title:       r.title,
		Severity:    severity,
		CWEs:        append([]int(nil), r.cwes...),
		Host:        s.in.Host,
		Port:        int(s.in.Addr.Port()),
		Protocol:    "tcp",
		URL:         pageURL,
		Scanner:     ScannerName,
		RuleID:      ruleID,
		Description: r.description,
		Remediation: r.remediation,
		References:  append([]string(nil), r.references...),
		Evidence:    cleanEvidence(evidence),
	}
	f.Normalize()
	key := ruleID + "\x00" + f.Location() + "\x00" + subject
	if _, dup := s.found[key]; dup {
		return
	}
	s.found[key] = f
}

// cleanEvidence bounds and sanitises evidence: much of it is text the target
// chose (header values, cookie attributes, file contents).
func cleanEvidence(s string) string {
	const maxEvidence = 8 << 10
	if len(s) > maxEvidence {
		s = s[:maxEvidence] + "\n…(truncated)"
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

func (s *scan) results() []findings.Finding {
	out := make([]findings.Finding, 0, len(s.found))
	for _, f := range s.found {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].RuleID != out[j].RuleID {
			return out[i].RuleID < out[j].RuleID
		}
		if out[i].Location() != out[j].Location() {
			return out[i].Location() < out[j].Location()
		}
		return out[i].Evidence < out[j].Evidence
	})
	return out
}
