package findings

import (
	_ "embed"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// The canonical issue keys of the checks scanners share live in canon.tsv,
// one reviewed table (its header says how to read it).
//
//go:embed canon.tsv
var canonTSV string

// CanonVersion identifies the map: stored findings are re-keyed when it
// changes (db.Rekey).
var CanonVersion = canonVersion(canonTSV)

type canonScope int

const (
	scopeOrigin canonScope = iota
	scopePath
	scopeUnder
)

type canonRow struct {
	line    int
	field   string // rule or title
	re      *regexp.Regexp
	exact   string // the pattern when it has no metacharacters (rule ids)
	key     string
	scope   canonScope
	marker  string // scopeUnder's marker, lower case
	paramIn string // evidence or title
	paramRe *regexp.Regexp
}

type canonTable struct {
	exact map[string]map[string][]*canonRow // scanner → lower rule id → rows
	rest  map[string][]*canonRow            // scanner → rows matched by pattern, in file order
	rows  []*canonRow
}

var canon = mustParseCanon(canonTSV)

// Canon is the canonical identity of a shared check's finding.
type Canon struct {
	Key      string // e.g. header-missing:x-frame-options
	Location string // host:port, plus the path when the issue is per path
}

// Canonical maps a finding of a check scanners share onto its canonical key
// and location; ok is false for everything else (CVE findings, scanner
// specific checks, a shared check without a location).
func Canonical(f *Finding) (Canon, bool) {
	return canon.match(f)
}

func mustParseCanon(src string) *canonTable {
	t, err := parseCanon(src)
	if err != nil {
		panic(err)
	}
	return t
}

func parseCanon(src string) (*canonTable, error) {
	t := &canonTable{exact: map[string]map[string][]*canonRow{}, rest: map[string][]*canonRow{}}
	for i, line := range strings.Split(src, "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 5 || len(cols) > 6 {
			return nil, fmt.Errorf("canon.tsv:%d: want 5 or 6 tab-separated columns, have %d", i+1, len(cols))
		}
		scanner := strings.ToLower(cols[0])
		r := &canonRow{line: i + 1, field: cols[1], key: strings.ToLower(cols[3])}
		if r.field != "rule" && r.field != "title" {
			return nil, fmt.Errorf("canon.tsv:%d: field %q is neither rule nor title", i+1, r.field)
		}
		re, err := regexp.Compile("^(?i:" + cols[2] + ")$")
		if err != nil {
			return nil, fmt.Errorf("canon.tsv:%d: %w", i+1, err)
		}
		r.re = re
		switch s := cols[4]; {
		case s == "origin":
			r.scope = scopeOrigin
		case s == "path":
			r.scope = scopePath
		case strings.HasPrefix(s, "under:/") && len(s) > len("under:/"):
			r.scope, r.marker = scopeUnder, strings.ToLower(strings.TrimPrefix(s, "under:"))
		default:
			return nil, fmt.Errorf("canon.tsv:%d: unknown scope %q", i+1, s)
		}
		if len(cols) == 6 {
			in, expr, ok := strings.Cut(cols[5], ":")
			if !ok || (in != "evidence" && in != "title") {
				return nil, fmt.Errorf("canon.tsv:%d: param must be evidence:<re> or title:<re>", i+1)
			}
			pre, err := regexp.Compile(expr)
			if err != nil || pre.NumSubexp() < 1 {
				return nil, fmt.Errorf("canon.tsv:%d: param needs a regular expression with a group (%v)", i+1, err)
			}
			r.paramIn, r.paramRe = in, pre
		}
		if strings.Contains(r.key, "{param}") != (r.paramRe != nil) {
			return nil, fmt.Errorf("canon.tsv:%d: key uses {param} exactly when a param is given", i+1)
		}
		if r.field == "rule" && regexp.QuoteMeta(cols[2]) == cols[2] {
			r.exact = strings.ToLower(cols[2])
			if t.exact[scanner] == nil {
				t.exact[scanner] = map[string][]*canonRow{}
			}
			t.exact[scanner][r.exact] = append(t.exact[scanner][r.exact], r)
		} else {
			t.rest[scanner] = append(t.rest[scanner], r)
		}
		t.rows = append(t.rows, r)
	}
	return t, nil
}

func (t *canonTable) match(f *Finding) (Canon, bool) {
	if len(f.CVEs) > 0 {
		return Canon{}, false
	}
	scanner := strings.ToLower(f.Scanner)
	byRule, rest := t.exact[scanner], t.rest[scanner]
	if byRule == nil && rest == nil {
		return Canon{}, false
	}
	if f.RuleID != "" {
		for _, r := range byRule[strings.ToLower(f.RuleID)] {
			if c, ok := r.apply(f, f.RuleID); ok {
				return c, true
			}
		}
	}
	for _, r := range rest {
		v := f.RuleID
		if r.field == "title" {
			v = f.Title
		}
		if v == "" {
			continue
		}
		if c, ok := r.apply(f, v); ok {
			return c, true
		}
	}
	return Canon{}, false
}

func (r *canonRow) apply(f *Finding, v string) (Canon, bool) {
	m := r.re.FindStringSubmatchIndex(v)
	if m == nil {
		return Canon{}, false
	}
	key := r.key
	if strings.Contains(key, "$") {
		key = strings.ToLower(string(r.re.ExpandString(nil, r.key, v, m)))
	}
	if r.paramRe != nil {
		src := f.Evidence
		if r.paramIn == "title" {
			src = f.Title
		}
		pm := r.paramRe.FindStringSubmatch(src)
		if pm == nil || strings.TrimSpace(pm[1]) == "" {
			return Canon{}, false
		}
		// Cookie names are case-sensitive; header names and versions are
		// not, and their rows never take a param.
		key = strings.ReplaceAll(key, "{param}", strings.TrimSpace(pm[1]))
	}
	loc, ok := canonLocation(f, r)
	if !ok {
		return Canon{}, false
	}
	return Canon{Key: key, Location: loc}, true
}

// canonLocation is host:port (with /udp for UDP), plus the path the row's
// scope asks for. A finding without a host or port has no canonical location.
func canonLocation(f *Finding, r *canonRow) (string, bool) {
	var u *url.URL
	if f.URL != "" {
		if p, err := url.Parse(strings.TrimSpace(f.URL)); err == nil {
			u = p
		}
	}
	host := strings.ToLower(strings.TrimSpace(f.Host))
	if host == "" && u != nil {
		host = strings.ToLower(u.Hostname())
	}
	port := f.Port
	if port == 0 && u != nil {
		if p, err := strconv.Atoi(u.Port()); err == nil {
			port = p
		} else {
			switch strings.ToLower(u.Scheme) {
			case "http":
				port = 80
			case "https":
				port = 443
			}
		}
	}
	if host == "" || port <= 0 {
		return "", false
	}
	loc := net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
	if strings.EqualFold(f.Protocol, "udp") {
		loc += "/udp"
	}
	switch r.scope {
	case scopePath:
		loc += dirPath(requestPath(f, u))
	case scopeUnder:
		p := strings.ToLower(requestPath(f, u))
		i := markerAt(p, r.marker)
		if i < 0 {
			// nikto names the file in its title ("/.git/index: …").
			t := strings.ToLower(f.Title)
			if j := strings.IndexByte(t, ':'); j > 0 {
				p = t[:j]
			}
			i = markerAt(p, r.marker)
		}
		if i < 0 {
			i = 0
			p = "/"
		}
		loc += dirPath(p[:i])
	}
	return loc, true
}

// markerAt finds marker in p as a whole path segment (/.git but not /.github).
func markerAt(p, marker string) int {
	for off := 0; ; {
		i := strings.Index(p[off:], marker)
		if i < 0 {
			return -1
		}
		end := off + i + len(marker)
		if end == len(p) || p[end] == '/' {
			return off + i
		}
		off = end
	}
}

// requestPath is the finding's URL path, or the path of the request its
// evidence shows ("GET /x", "Request: GET /x"), or "/".
func requestPath(f *Finding, u *url.URL) string {
	if u != nil && u.Path != "" {
		return u.Path
	}
	line, _, _ := strings.Cut(f.Evidence, "\n")
	line = strings.TrimPrefix(strings.TrimSpace(line), "Request: ")
	if _, p, ok := strings.Cut(line, " "); ok && strings.HasPrefix(p, "/") {
		if i := strings.IndexAny(p, "?# "); i >= 0 {
			p = p[:i]
		}
		return p
	}
	return "/"
}

// dirPath spells a directory one way: leading and trailing slash.
func dirPath(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return "/"
	}
	return "/" + p + "/"
}

func canonVersion(src string) string {
	// The version only has to change when the table does.
	var h uint64 = 14695981039346656037
	for i := 0; i < len(src); i++ {
		h ^= uint64(src[i])
		h *= 1099511628211
	}
	return strconv.FormatUint(h, 16)
}
