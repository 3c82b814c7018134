package checks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// probeDirs are the directories exposed files are looked for in: the
// application's directory and, when it is deeper, the server root, where a
// checkout or a .env usually sits.
func (s *scan) probeDirs() []string {
	if s.baseDir == "/" {
		return []string{"/"}
	}
	return []string{s.baseDir, "/"}
}

// baseline is the response for a path that cannot exist in dir, and that
// path's name. Servers that answer every path with 200 ("soft 404") are
// recognised by comparing a probe with it. A nil response means the baseline
// request failed; probes are then judged by their content alone.
func (s *scan) baseline(ctx context.Context, dir string) (*response, string, error) {
	if b, ok := s.baselines[dir]; ok {
		return b.resp, b.name, nil
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	name := "secureops-" + hex.EncodeToString(rnd[:])
	r, err := s.get(ctx, dir+name)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		r = nil
	}
	s.baselines[dir] = baselineResponse{resp: r, name: name}
	return r, name, nil
}

// softNotFound reports whether probe is just the server's answer to any path:
// the same status and body as the baseline, once the baseline's random name
// is replaced with the probed one (error pages often echo the path).
func softNotFound(probe, base *response, baseName, probeName string) bool {
	if base == nil || base.status != probe.status {
		return false
	}
	if bytes.Equal(base.body, probe.body) {
		return true
	}
	echoed := bytes.ReplaceAll(base.body, []byte(baseName), []byte(probeName))
	return bytes.Equal(echoed, probe.body)
}

var (
	gitHeadRef = regexp.MustCompile(`^ref: refs/[^\s]+$`)
	gitHeadSHA = regexp.MustCompile(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)
	envLine    = regexp.MustCompile(`^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=(.*)$`)
)

// looksLikeGitHead accepts exactly what git writes to HEAD: a symbolic ref or
// a detached commit id (SHA-1 or SHA-256 repositories).
func looksLikeGitHead(body []byte) bool {
	b := bytes.TrimSpace(body)
	if len(b) > 256 {
		return false
	}
	return gitHeadRef.Match(b) || gitHeadSHA.Match(b)
}

// looksLikeDotenv accepts bodies that are mostly KEY=VALUE lines and not
// markup: error pages and single-page-app shells answer 200 to any path.
func looksLikeDotenv(body []byte) bool {
	if len(body) == 0 || bytes.IndexByte(body, 0) >= 0 || !utf8.Valid(body) {
		return false
	}
	lower := bytes.ToLower(body)
	for _, marker := range []string{"<html", "<!doctype", "<head", "<body", "<script", "<?xml"} {
		if bytes.Contains(lower, []byte(marker)) {
			return false
		}
	}
	if t := bytes.TrimSpace(body); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return false
	}
	kv, other := 0, 0
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if envLine.MatchString(line) {
			kv++
		} else {
			other++
		}
	}
	return kv > 0 && kv > other
}

// dotenvEvidence lists the variables an exposed .env defines with their
// values redacted: the finding store must not become a second copy of the
// target's secrets. The names and value lengths are enough to triage.
func dotenvEvidence(body []byte) string {
	var out []string
	n := 0
	for _, line := range strings.Split(string(body), "\n") {
		m := envLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		n++
		if len(out) < 20 {
			v := strings.Trim(strings.TrimSpace(m[2]), `"'`)
			out = append(out, fmt.Sprintf("%s=<redacted, %d chars>", truncate(m[1], 100), utf8.RuneCountInString(v)))
		}
	}
	if n > len(out) {
		out = append(out, fmt.Sprintf("… %d more", n-len(out)))
	}
	return fmt.Sprintf("%d variable(s) defined (values redacted):\n%s", n, strings.Join(out, "\n"))
}

// snippet is the first bytes of a body, printable.
func snippet(body []byte, n int) string {
	if len(body) > n {
		body = body[:n]
	}
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || (unicode.IsPrint(r) && r != utf8.RuneError) {
			return r
		}
		return '.'
	}, string(body))
}

func (s *scan) checkExposedFiles(ctx context.Context) error {
	for _, dir := range s.probeDirs() {
		base, baseName, err := s.baseline(ctx, dir)
		if err != nil {
			return err
		}
		for _, probe := range []struct {
			name    string
			ruleID  string
			matches func([]byte) bool
			show    func([]byte) string
		}{
			{".git/HEAD", RuleExposedGit, looksLikeGitHead, func(b []byte) string { return "first bytes:\n" + snippet(b, 128) }},
			{".env", RuleExposedEnv, looksLikeDotenv, dotenvEvidence},
		} {
			r, err := s.get(ctx, dir+probe.name)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				continue
			}
			if r.status != 200 || !probe.matches(r.body) || softNotFound(r, base, baseName, probe.name) {
				continue
			}
			ev := fmt.Sprintf("GET %s -> %d, Content-Type: %s, %d bytes read\n%s",
				r.url, r.status, r.header.Get("Content-Type"), len(r.body), probe.show(r.body))
			s.add(probe.ruleID, r.url, ev, "")
		}
	}
	return ctx.Err()
}

// commonDirs are directories that are often left browsable. The list is
// short on purpose: this is a hygiene check, not a content brute-forcer.
var commonDirs = []string{"assets/", "backup/", "files/", "images/", "static/", "uploads/"}

// listingMarkers identify the autoindex pages of common servers.
var listingMarkers = []struct {
	server string
	re     *regexp.Regexp
}{
	{"Apache/nginx/lighttpd", regexp.MustCompile(`(?i)<title>\s*Index of /`)},
	{"Apache/nginx/lighttpd", regexp.MustCompile(`(?i)<h1>\s*Index of /`)},
	{"Python http.server", regexp.MustCompile(`(?i)<title>\s*Directory listing for /`)},
	{"Tomcat", regexp.MustCompile(`(?i)<title>\s*Directory Listing For /`)},
	{"IIS", regexp.MustCompile(`\[To Parent Directory\]`)},
	// Go's http.FileServer: a bare <pre> list of links and nothing else.
	{"Go http.FileServer", regexp.MustCompile(`(?s)\A(?:<!doctype html>\s*<meta name="viewport"[^>]*>\s*)?<pre>\s*(?:<a href="[^"]*">[^<]*</a>\s*)*</pre>\s*\z`)},
}

func directoryListing(body []byte) string {
	for _, m := range listingMarkers {
		if m.re.Match(body) {
			return m.server
		}
	}
	return ""
}

func (s *scan) checkDirectoryListing(ctx context.Context) error {
	report := func(r *response) {
		if r.status != 200 {
			return
		}
		if server := directoryListing(r.body); server != "" {
			ev := fmt.Sprintf("GET %s -> %d; autoindex page (%s)\nfirst bytes:\n%s", r.url, r.status, server, snippet(r.body, 300))
			s.add(RuleDirectoryListing, r.url, ev, "")
		}
	}
	if s.base != nil {
		report(s.base)
	}
	base, baseName, err := s.baseline(ctx, s.baseDir)
	if err != nil {
		return err
	}
	for _, d := range commonDirs {
		r, err := s.get(ctx, s.baseDir+d)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		if softNotFound(r, base, baseName, d) {
			continue
		}
		report(r)
	}
	return ctx.Err()
}
