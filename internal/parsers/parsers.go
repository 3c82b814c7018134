// Package parsers turns scanner reports into normalised findings.
//
// Each format follows the semantics of the matching DefectDojo parser
// (dojo/tools/<name>/parser.py), including its internal de-duplication, so
// that a report yields the same number of findings here as it does there:
// operators compare the two tools and a different count reads as a bug.
// Where DefectDojo would crash on an odd but harmless input (a null where a
// list is expected, a missing optional key) these parsers are lenient; where
// the input is not a report of the format at all they return a
// *MalformedError.
package parsers

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/secureops/secureops/internal/findings"
)

// Scanners lists the supported report formats.
var Scanners = []string{"nmap", "nikto", "zap", "trivy", "nuclei", "generic", "secureops"}

// ErrUnknownScanner is returned (wrapped) by Parse for a scanner name that is
// not in Scanners.
var ErrUnknownScanner = errors.New("parsers: unknown scanner")

// MalformedError says why a report could not be read; callers turn it into a
// 422 / exit 1.
type MalformedError struct {
	Scanner string
	Reason  string
	Err     error
}

func (e *MalformedError) Error() string {
	msg := "malformed " + e.Scanner + " report"
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *MalformedError) Unwrap() error { return e.Err }

func malformed(scanner, reason string, err error) error {
	return &MalformedError{Scanner: scanner, Reason: reason, Err: err}
}

// Parse reads a report of the given scanner format.
func Parse(scanner string, data []byte) ([]findings.Finding, error) {
	name := strings.ToLower(strings.TrimSpace(scanner))
	var (
		out []findings.Finding
		err error
	)
	switch name {
	case "nmap":
		out, err = parseNmap(data)
	case "nikto":
		out, err = parseNikto(data)
	case "zap":
		out, err = parseZAP(data)
	case "trivy":
		out, err = parseTrivy(data)
	case "nuclei":
		out, err = parseNuclei(data)
	case "generic":
		out, err = parseGeneric(data)
	case "secureops":
		out, err = parseSecureOps(data)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownScanner, scanner)
	}
	if err != nil {
		return nil, err
	}
	for i := range out {
		finish(&out[i], name)
	}
	return out, nil
}

// Detect guesses the format of a report from its content ("" if unknown).
func Detect(data []byte) string {
	b := trimLeft(data)
	if len(b) == 0 {
		return ""
	}
	switch b[0] {
	case '<':
		switch xmlRootName(b) {
		case "nmaprun":
			return "nmap"
		case "niktoscan":
			return "nikto"
		case "OWASPZAPReport":
			return "zap"
		}
		return ""
	case '{', '[':
		return detectJSON(b)
	case 'n':
		// The legacy Trivy format writes a bare null for an image without
		// findings; no other supported format does.
		if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
			return "trivy"
		}
	}
	return ""
}

// Caps keep one absurd field from dominating a stored finding; they are far
// above what real scanners emit.
const (
	maxTitleRunes = 511 // DefectDojo's Finding.title max_length
	maxTextBytes  = 64 << 10
)

// finish applies what every finding must satisfy whatever its format: a
// scanner name, a one-line bounded title, a valid severity and a fingerprint.
func finish(f *findings.Finding, scanner string) {
	if strings.TrimSpace(f.Scanner) == "" {
		f.Scanner = scanner
	}
	f.Scanner = strings.TrimSpace(truncRunes(oneLine(f.Scanner), 100))
	// Cut before folding whitespace so a huge title costs no more than a
	// small one; the slack keeps folded runs from shortening it much.
	f.Title = truncRunes(oneLine(truncRunes(f.Title, 4*maxTitleRunes)), maxTitleRunes)
	if strings.TrimSpace(f.Title) == "" {
		f.Title = scanner + " finding"
		if f.RuleID != "" {
			f.Title += " " + truncRunes(oneLine(f.RuleID), 200)
		}
	}
	if !f.Severity.Valid() {
		f.Severity = findings.ParseSeverity(string(f.Severity))
	}
	if f.Port < 0 || f.Port > 65535 {
		f.Port = 0
	}
	f.Description = truncBytes(strings.TrimSpace(f.Description), maxTextBytes)
	f.Evidence = truncBytes(strings.TrimSpace(f.Evidence), maxTextBytes)
	f.Remediation = truncBytes(strings.TrimSpace(f.Remediation), maxTextBytes)
	f.CVEs = uniqueStrings(f.CVEs, true)
	f.References = uniqueStrings(f.References, false)
	f.CWEs = uniqueInts(f.CWEs)
	f.Fingerprint = ""
	f.Normalize()
}

// oneLine folds whitespace runs (newlines included) into single spaces:
// titles are shown in one-line lists and compared in fingerprints.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t\v\f") && !strings.Contains(s, "  ") {
		return strings.TrimSpace(s)
	}
	return strings.Join(strings.Fields(s), " ")
}

func truncRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i, count := 0, 0
	for i < len(s) {
		if count == n {
			return s[:i]
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		count++
	}
	return s
}

func truncBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "\n…(truncated)"
}

func uniqueStrings(in []string, upper bool) []string {
	if len(in) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		s = strings.TrimSpace(s)
		if upper {
			s = strings.ToUpper(s)
		}
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func uniqueInts(in []int) []int {
	if len(in) == 0 {
		return nil
	}
	seen := make(map[int]bool, len(in))
	var out []int
	for _, v := range in {
		if v <= 0 || seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

// trimLeft drops a UTF-8 byte order mark and leading whitespace, which
// editors and shell redirections add in front of otherwise valid reports.
func trimLeft(b []byte) []byte {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	return bytes.TrimLeft(b, " \t\r\n")
}

// dedup keeps findings in first-seen order under a key, the way DefectDojo's
// parsers fill their `dupes` dict and return list(dupes.values()). Later
// occurrences of a key are folded into the first finding: their locations
// are listed in its description (a bounded number of them: a report with
// thousands of identical hits keeps the count, not every location).
type dedup struct {
	index map[string]int
	list  []findings.Finding
	more  []merged
}

type merged struct {
	count int      // occurrences folded in
	where []string // the first maxListed of their locations
}

const maxListed = 50

func newDedup() *dedup { return &dedup{index: map[string]int{}} }

// add stores f under key, or records where as one more occurrence of the
// finding already stored under it.
func (d *dedup) add(key string, f findings.Finding, where string) {
	if !d.dup(key, where) {
		d.index[key] = len(d.list)
		d.list = append(d.list, f)
		d.more = append(d.more, merged{})
	}
}

// dup records an occurrence of an already stored key and reports whether
// there was one, so callers can skip building a finding that would be
// folded away (reports with thousands of repeats are common).
func (d *dedup) dup(key, where string) bool {
	i, ok := d.index[key]
	if !ok {
		return false
	}
	m := &d.more[i]
	m.count++
	if len(m.where) < maxListed && where != "" {
		m.where = append(m.where, where)
	}
	return true
}

func (d *dedup) result() []findings.Finding {
	for i := range d.list {
		m := &d.more[i]
		if m.count == 0 {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Reported %d times in this report.", m.count+1)
		if len(m.where) > 0 {
			b.WriteString(" Also at:")
			for _, w := range m.where {
				b.WriteString("\n- ")
				b.WriteString(w)
			}
			if rest := m.count - len(m.where); rest > 0 {
				fmt.Fprintf(&b, "\n- (%d more)", rest)
			}
		}
		f := &d.list[i]
		f.Description = strings.TrimSpace(f.Description + "\n\n" + b.String())
	}
	return d.list
}

// textBuilder assembles descriptions: "label: value" lines, and paragraphs
// separated by blank lines. Empty values are left out.
type textBuilder struct {
	strings.Builder
	lastPara bool
}

func (b *textBuilder) kv(label, value string) {
	value = strings.TrimSpace(value)
	if value == "" {
		return
	}
	if b.Len() > 0 {
		b.WriteByte('\n')
		if b.lastPara {
			b.WriteByte('\n')
		}
	}
	b.WriteString(label)
	b.WriteString(": ")
	b.WriteString(value)
	b.lastPara = false
}

func (b *textBuilder) para(text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	if b.Len() > 0 {
		b.WriteString("\n\n")
	}
	b.WriteString(text)
	b.lastPara = true
}
