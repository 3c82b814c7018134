package parsers

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// ---------------------------------------------------------------- XML

// newXMLDecoder returns a decoder for untrusted reports. encoding/xml never
// fetches external entities or expands user-defined ones, so the classic XXE
// and billion-laughs attacks do not apply; HTML entity names are accepted
// because ZAP and Nikto copy HTML fragments into their reports.
func newXMLDecoder(data []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Entity = xml.HTMLEntity
	d.CharsetReader = charsetReader
	return d
}

// charsetReader handles the single-byte encodings older scanners declare.
// Windows-1252 is read as Latin-1: the two differ only in 0x80–0x9F, which
// then become C1 controls instead of punctuation, an acceptable loss.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return input, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "windows-1252", "cp1252":
		b, err := io.ReadAll(input)
		if err != nil {
			return nil, err
		}
		var out bytes.Buffer
		out.Grow(len(b))
		for _, c := range b {
			out.WriteRune(rune(c))
		}
		return &out, nil
	}
	return nil, fmt.Errorf("unsupported charset %q", charset)
}

// xmlRoot reads up to the root element and returns it. The prolog (XML
// declaration, DOCTYPE, comments) is skipped.
func xmlRoot(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return xml.StartElement{}, errors.New("no root element")
			}
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return xml.StartElement{}, errors.New("text before the root element")
			}
		}
	}
}

// xmlChildren calls fn for each direct child element of the root the
// decoder has just entered, and checks the document is complete after it:
// a truncated report must fail rather than yield the findings read so far.
// fn must consume the child (DecodeElement or Skip).
func xmlChildren(d *xml.Decoder, fn func(se xml.StartElement) error) error {
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := fn(t); err != nil {
				return err
			}
		case xml.EndElement:
			return xmlEnd(d)
		}
	}
}

// xmlEnd rejects content after the root element, as ElementTree does.
func xmlEnd(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return errors.New("junk after document element")
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return errors.New("junk after document element")
			}
		}
	}
}

// xmlRootName returns the local name of the root element, reading no
// further than needed; "" when the prefix is not XML.
func xmlRootName(b []byte) string {
	d := newXMLDecoder(b)
	se, err := xmlRoot(d)
	if err != nil {
		return ""
	}
	return se.Name.Local
}

// ---------------------------------------------------------------- JSON

// jstr is a JSON value read leniently as text: scanners disagree on whether
// ports, ids and scores are strings or numbers, and one odd field must not
// make a whole report unreadable. It remembers whether the key was present
// and whether it was null, because DefectDojo's dict.get(key, default)
// distinguishes the two.
type jstr struct {
	set  bool
	null bool
	s    string
}

func (v *jstr) UnmarshalJSON(b []byte) error {
	v.set = true
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
	case b[0] == 'n':
		v.null = true
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v.s = s
	default:
		// Numbers and booleans keep their literal text; objects and
		// arrays keep their JSON so nothing is silently lost. Raw JSON
		// may hold invalid UTF-8 in keys, which string decoding would
		// have replaced.
		v.s = strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return nil
}

// present reports whether the key was there with a non-null value.
func (v jstr) present() bool { return v.set && !v.null }

// or returns the text, or def when the key was absent (DefectDojo's
// dict.get(key, def)).
func (v jstr) or(def string) string {
	if !v.set {
		return def
	}
	return v.s
}

// pyStr renders the value the way a Python f-string would: None for null
// or missing. Only used where DefectDojo hashes such text into a key.
func (v jstr) pyStr() string {
	if !v.set || v.null {
		return "None"
	}
	return v.s
}

func (v jstr) float() (float64, bool) {
	if !v.present() {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64)
	if err != nil || f != f || f < 0 || f > 10 {
		return 0, false
	}
	return f, true
}

// jlist is a list of scalars that also accepts a single scalar (some
// nuclei templates write "reference": "url" instead of a list) or null.
type jlist []string

func (l *jlist) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == 'n' {
		*l = nil
		return nil
	}
	if b[0] != '[' {
		var v jstr
		if err := v.UnmarshalJSON(b); err != nil {
			return err
		}
		*l = jlist{v.s}
		return nil
	}
	var items []jstr
	if err := json.Unmarshal(b, &items); err != nil {
		return err
	}
	out := make(jlist, 0, len(items))
	for _, it := range items {
		if it.present() {
			out = append(out, it.s)
		}
	}
	*l = out
	return nil
}

// objList is a JSON array whose non-object elements are skipped, as
// DefectDojo's `if not isinstance(x, dict): continue` does; null is empty.
type objList[T any] []T

func (l *objList[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == 'n' {
		*l = nil
		return nil
	}
	if b[0] != '[' {
		return fmt.Errorf("expected an array, got %s", jsonKind(b))
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return err
	}
	out := make(objList[T], 0, len(raws))
	for _, r := range raws {
		r = bytes.TrimSpace(r)
		if len(r) == 0 || r[0] != '{' {
			continue
		}
		var v T
		if err := json.Unmarshal(r, &v); err != nil {
			return err
		}
		out = append(out, v)
	}
	*l = out
	return nil
}

func jsonKind(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// jsonError classifies a decoding error for MalformedError.Reason.
func jsonError(scanner string, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
		return malformed(scanner, "invalid JSON", err)
	}
	return malformed(scanner, "unexpected JSON structure", err)
}

// detectJSON looks at the first object of a JSON document (or of a JSON
// Lines stream, or inside a top-level array) and names the format.
func detectJSON(b []byte) string {
	d := json.NewDecoder(bytes.NewReader(b))
	var keys map[string]skipValue
	if b[0] == '[' {
		if _, err := d.Token(); err != nil {
			return ""
		}
		if !d.More() {
			return ""
		}
	}
	if err := d.Decode(&keys); err != nil {
		return ""
	}
	has := func(k string) bool { _, ok := keys[k]; return ok }
	switch {
	case has("SchemaVersion") || has("ClusterName") || (has("ArtifactName") && has("Results")):
		return "trivy"
	case b[0] == '[' && has("Target") && (has("Vulnerabilities") || has("Misconfigurations") || has("Secrets") || has("Type")):
		return "trivy"
	case has("template-id") || has("templateID") || (has("info") && (has("matched-at") || has("matched"))):
		return "nuclei"
	case has("vulnerabilities") && (has("host") || has("ip") || has("banner")):
		return "nikto"
	case b[0] == '[' && has("fingerprint") && has("severity") && has("scanner"):
		return "secureops"
	case has("findings") && b[0] == '{':
		return "generic"
	}
	return ""
}

// skipValue consumes a JSON value without keeping it, so sniffing a large
// report does not copy it.
type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }

// ---------------------------------------------------------------- text

var (
	htmlBreak = regexp.MustCompile(`(?i)<\s*(br|/p|p|/li|/div|/h[1-6]|/tr)\b[^>]*>`)
	htmlItem  = regexp.MustCompile(`(?i)<\s*li\b[^>]*>`)
	htmlTag   = regexp.MustCompile(`<[^>]*>`)
	blankRuns = regexp.MustCompile(`\n{3,}`)
)

// htmlToText is a small stand-in for html2text, which DefectDojo applies
// to ZAP's HTML descriptions: block tags become line breaks, other tags go.
func htmlToText(s string) string {
	if !strings.Contains(s, "<") && !strings.Contains(s, "&") {
		return strings.TrimSpace(s)
	}
	s = htmlBreak.ReplaceAllString(s, "\n")
	s = htmlItem.ReplaceAllString(s, "\n- ")
	s = htmlTag.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	s = strings.Join(lines, "\n")
	s = blankRuns.ReplaceAllString(s, "\n\n")
	return strings.TrimSpace(s)
}

// splitLines returns the non-empty trimmed lines of s.
func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		l = strings.TrimPrefix(l, "- ")
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

var cweRe = regexp.MustCompile(`(?i)CWE-(\d{1,6})`)

// parseCWEs takes the numbers out of "CWE-79" style identifiers, skipping
// "NVD-CWE-Other" and "NVD-CWE-noinfo", which are not weaknesses.
func parseCWEs(ids []string) []int {
	var out []int
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if n, err := strconv.Atoi(id); err == nil {
			out = append(out, n)
			continue
		}
		for _, m := range cweRe.FindAllStringSubmatch(id, -1) {
			if n, err := strconv.Atoi(m[1]); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func isCVE(id string) bool {
	return len(id) > 4 && strings.EqualFold(id[:4], "CVE-")
}

// ---------------------------------------------------------------- URIs

// uriParts pulls scheme, host and port out of a URI or a bare
// "host[:port][/path]", like DefectDojo's Endpoint.from_uri does after
// prefixing "//" to scheme-less values. It never fails: scanners put all
// sorts of strings in these fields.
func uriParts(s string) (scheme, host string, port int) {
	rest := strings.TrimSpace(s)
	if i := strings.Index(rest, "://"); i >= 0 {
		scheme = strings.ToLower(rest[:i])
		rest = rest[i+3:]
	} else {
		rest = strings.TrimPrefix(rest, "//")
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if j := strings.Index(rest, "]"); j > 0 {
			host = rest[1:j]
			if p, ok := strings.CutPrefix(rest[j+1:], ":"); ok {
				port = parsePort(p)
			}
		} else {
			host = rest
		}
	} else if strings.Count(rest, ":") == 1 {
		h, p, _ := strings.Cut(rest, ":")
		host, port = h, parsePort(p)
	} else {
		host = rest
	}
	if port == 0 {
		port = defaultPort(scheme)
	}
	return scheme, host, port
}

func defaultPort(scheme string) int {
	switch scheme {
	case "http", "ws":
		return 80
	case "https", "wss":
		return 443
	case "ftp":
		return 21
	case "ssh":
		return 22
	}
	return 0
}

func parsePort(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 || n > 65535 {
		return 0
	}
	return n
}

// ---------------------------------------------------------------- misc

// pyWordChar is Python's \w for str patterns.
func pyWordChar(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// pySpace is Python's \s for str patterns.
func pySpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x1f, 0x85:
		return true
	}
	return unicode.IsSpace(r)
}

// firstSentence reproduces DefectDojo's nikto title rule,
// re.split(r"(?<!\w\.\w.)(?<![A-Z][a-z]\.)(?<=\.|\?)\s", text)[0][:900]:
// cut at the first whitespace that follows "." or "?", unless the dot ends
// an abbreviation like "e.g." or "Mr.", and keep at most 900 runes. Only
// the first 900 runes can matter, so no more are scanned.
func firstSentence(s string) string {
	const limit = 900
	var prev [4]rune // prev[3] is the rune just before the current one
	n := 0
	for i, r := range s {
		if n == limit {
			return s[:i]
		}
		if n > 0 && pySpace(r) && (prev[3] == '.' || prev[3] == '?') {
			abbrev := n >= 4 && pyWordChar(prev[0]) && prev[1] == '.' && pyWordChar(prev[2])
			title := n >= 3 && prev[1] >= 'A' && prev[1] <= 'Z' && prev[2] >= 'a' && prev[2] <= 'z' && prev[3] == '.'
			if !abbrev && !title {
				return s[:i]
			}
		}
		prev = [4]rune{prev[1], prev[2], prev[3], r}
		n++
	}
	return s
}
