package checks

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// response is one GET as the checks see it: the last response, and every
// response on the way there (cookies set on a redirect still count).
type response struct {
	url    string
	status int
	header http.Header
	body   []byte
	hops   []hop
}

type hop struct {
	url    string
	header http.Header
}

// get fetches a path on the target, following at most maxRedirects redirects
// that stay on the same scheme, host and port. A redirect anywhere else is
// not followed: the transport would dial the vetted address with another
// Host, and a different target was never vetted at all. The response that
// redirected is then judged as it is.
func (s *scan) get(ctx context.Context, p string) (*response, error) {
	u := s.urlFor(p)
	var hops []hop
	for redirects := 0; ; redirects++ {
		status, header, body, err := s.do(ctx, u)
		if err != nil {
			return nil, err
		}
		hops = append(hops, hop{url: u, header: header})
		r := &response{url: u, status: status, header: header, body: body, hops: hops}
		loc := header.Get("Location")
		if status < 300 || status > 399 || loc == "" || redirects == maxRedirects {
			return r, nil
		}
		base, err := url.Parse(u)
		if err != nil {
			return r, nil
		}
		next, err := base.Parse(loc)
		if err != nil || !s.sameTarget(next) {
			return r, nil
		}
		next.Fragment, next.RawFragment = "", ""
		u = next.String()
	}
}

// do performs one request, bounded by the per-operation timeout and maxBody.
func (s *scan) do(ctx context.Context, u string) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("GET %s: reading body: %w", u, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// sameTarget reports whether u is served by the scanned endpoint.
func (s *scan) sameTarget(u *url.URL) bool {
	if u.Scheme != s.scheme || u.User != nil {
		return false
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	host := strings.TrimSuffix(u.Hostname(), ".")
	return strings.EqualFold(host, s.in.Host) && port == strconv.Itoa(int(s.in.Addr.Port()))
}

// securityHeaders are listed with their values in the evidence of every
// header finding, so one finding shows the whole picture.
var securityHeaders = []string{
	"Strict-Transport-Security",
	"Content-Security-Policy",
	"Content-Security-Policy-Report-Only",
	"X-Frame-Options",
	"X-Content-Type-Options",
	"Referrer-Policy",
}

func (s *scan) checkHeaders(ctx context.Context) error {
	r, err := s.get(ctx, s.basePath)
	if err != nil {
		return fmt.Errorf("GET %s: %w", s.urlFor(s.basePath), err)
	}
	s.base = r
	h := r.header
	ev := headerEvidence(r)

	if s.in.TLS && !hstsEffective(h.Values("Strict-Transport-Security")) {
		s.add(RuleMissingHSTS, r.url, ev, "")
	}
	csp := nonEmpty(h.Values("Content-Security-Policy"))
	if len(csp) == 0 {
		s.add(RuleMissingCSP, r.url, ev, "")
	}
	if !frameProtected(h.Values("X-Frame-Options"), csp) {
		s.add(RuleMissingXFrameOptions, r.url, ev, "")
	}
	if !strings.EqualFold(strings.TrimSpace(h.Get("X-Content-Type-Options")), "nosniff") {
		s.add(RuleMissingXContentTypeOptions, r.url, ev, "")
	}
	if p := referrerPolicy(h.Values("Referrer-Policy")); p == "" || p == "unsafe-url" {
		s.add(RuleMissingReferrerPolicy, r.url, ev, "")
	}
	s.checkCookies(r)
	return nil
}

func headerEvidence(r *response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s -> %d %s\n", r.url, r.status, http.StatusText(r.status))
	for _, name := range securityHeaders {
		vals := r.header.Values(name)
		if len(vals) == 0 {
			fmt.Fprintf(&b, "%s: (absent)\n", name)
			continue
		}
		for _, v := range vals {
			fmt.Fprintf(&b, "%s: %s\n", name, truncate(v, 300))
		}
	}
	names := make([]string, 0, len(r.header))
	for k := range r.header {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "headers seen: %s", strings.Join(names, ", "))
	return b.String()
}

// hstsEffective reports whether a Strict-Transport-Security header has a
// positive max-age; max-age=0 is how a site tells browsers to forget HSTS.
// Browsers honour only the first header, so only it is read.
func hstsEffective(vals []string) bool {
	if len(vals) == 0 {
		return false
	}
	for _, d := range strings.Split(vals[0], ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(d), "=")
		if !strings.EqualFold(strings.TrimSpace(k), "max-age") {
			continue
		}
		n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(v), `"`), 10, 64)
		return err == nil && n > 0
	}
	return false
}

// frameProtected accepts X-Frame-Options DENY/SAMEORIGIN, or a CSP
// frame-ancestors directive, which supersedes X-Frame-Options in browsers.
func frameProtected(xfo, csp []string) bool {
	for _, policy := range csp {
		for _, d := range strings.Split(policy, ";") {
			if name, _, _ := strings.Cut(strings.TrimSpace(d), " "); strings.EqualFold(name, "frame-ancestors") {
				return true
			}
		}
	}
	if len(xfo) == 0 {
		return false
	}
	// Conflicting or unknown values make browsers ignore the header, so every
	// value present must be one that protects.
	for _, v := range xfo {
		for _, part := range strings.Split(v, ",") {
			p := strings.TrimSpace(part)
			if !strings.EqualFold(p, "DENY") && !strings.EqualFold(p, "SAMEORIGIN") {
				return false
			}
		}
	}
	return true
}

var referrerPolicies = map[string]bool{
	"no-referrer": true, "no-referrer-when-downgrade": true, "origin": true,
	"origin-when-cross-origin": true, "same-origin": true, "strict-origin": true,
	"strict-origin-when-cross-origin": true, "unsafe-url": true,
}

// referrerPolicy returns the policy a browser applies: the last token it
// recognises (the header allows fallbacks listed first), or "" for none.
func referrerPolicy(vals []string) string {
	effective := ""
	for _, v := range vals {
		for _, tok := range strings.Split(v, ",") {
			tok = strings.ToLower(strings.TrimSpace(tok))
			if referrerPolicies[tok] {
				effective = tok
			}
		}
	}
	return effective
}

func nonEmpty(vals []string) []string {
	var out []string
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			out = append(out, v)
		}
	}
	return out
}

// checkCookies reports, per flag, every cookie set on the way to the base
// page that lacks it: one finding per rule at the base page's URL, naming
// the cookies. Cookie values never reach the evidence: they are often
// session tokens.
func (s *scan) checkCookies(r *response) {
	type cookie struct{ name, desc string }
	var noSecure, noHTTPOnly, noSameSite []cookie
	seen := map[string]bool{}
	for _, h := range r.hops {
		for _, line := range h.header.Values("Set-Cookie") {
			c, err := http.ParseSetCookie(line)
			if err != nil {
				continue
			}
			// A cookie being deleted carries nothing worth protecting.
			if c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(s.now)) {
				continue
			}
			if seen[c.Name] {
				continue
			}
			seen[c.Name] = true
			ck := cookie{c.Name, cookieEvidence(c.Name, line, h.url)}
			if s.in.TLS && !c.Secure {
				noSecure = append(noSecure, ck)
			}
			if !c.HttpOnly {
				noHTTPOnly = append(noHTTPOnly, ck)
			}
			// SameSiteDefaultMode is what net/http reports for an attribute
			// with a value browsers do not recognise: as good as absent.
			if c.SameSite == 0 || c.SameSite == http.SameSiteDefaultMode {
				noSameSite = append(noSameSite, ck)
			}
		}
	}
	// One finding per cookie: each is fixed on its own, and other scanners
	// report cookies one by one (findings.Canonical merges them by name).
	for _, f := range []struct {
		ruleID  string
		cookies []cookie
	}{
		{RuleCookieMissingSecure, noSecure},
		{RuleCookieMissingHTTPOnly, noHTTPOnly},
		{RuleCookieMissingSameSite, noSameSite},
	} {
		for _, c := range f.cookies {
			s.addFor(f.ruleID, r.url, c.name, c.desc, "")
		}
	}
}

// cookieEvidence shows a cookie's name and attributes without its value.
func cookieEvidence(name, line, setBy string) string {
	attrs := ""
	if _, rest, ok := strings.Cut(line, ";"); ok {
		attrs = strings.TrimSpace(rest)
	}
	if attrs == "" {
		attrs = "(no attributes)"
	}
	return fmt.Sprintf("cookie %q set by %s: %s", name, setBy, truncate(attrs, 300))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
