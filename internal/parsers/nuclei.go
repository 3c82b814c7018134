package parsers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/secureops/secureops/internal/findings"
)

type nucleiItem struct {
	TemplateID     jstr        `json:"templateID"`
	TemplateIDDash jstr        `json:"template-id"`
	TemplatePath   jstr        `json:"template-path"`
	Info           *nucleiInfo `json:"info"`
	Type           jstr        `json:"type"`
	Host           jstr        `json:"host"`
	IP             jstr        `json:"ip"`
	Port           jstr        `json:"port"`
	Matched        jstr        `json:"matched"`
	MatchedAt      jstr        `json:"matched-at"`
	MatcherName    jstr        `json:"matcher-name"`
	MatcherNameV2  jstr        `json:"matcher_name"`
	Extracted      jlist       `json:"extracted-results"`
	ExtractedV2    jlist       `json:"extracted_results"`
	CurlCommand    jstr        `json:"curl-command"`
	Timestamp      jstr        `json:"timestamp"`
}

type nucleiInfo struct {
	Name           jstr  `json:"name"`
	Severity       jstr  `json:"severity"`
	Description    jstr  `json:"description"`
	Remediation    jstr  `json:"remediation"`
	Reference      jlist `json:"reference"`
	Tags           jlist `json:"tags"`
	Classification *struct {
		CVEID       jlist `json:"cve-id"`
		CWEID       jlist `json:"cwe-id"`
		CVSSMetrics jstr  `json:"cvss-metrics"`
		CVSSScore   jstr  `json:"cvss-score"`
	} `json:"classification"`
}

// nucleiSeverity is DefectDojo's rule: info.severity.title() if it is one
// of Finding.SEVERITIES, else DEFAULT_SEVERITY, which is Low ("unknown"
// included).
func nucleiSeverity(s string) findings.Severity {
	switch s = strings.ToLower(s); s {
	case "critical", "high", "medium", "low", "info":
		return findings.Severity(s)
	}
	return findings.SeverityLow
}

// parseNuclei follows dojo/tools/nuclei/parser.py: the report is a JSON
// array or JSON Lines, and results are de-duplicated on template id + type
// + matcher name + the host of the matched location (its port ignored), so
// one template matching several URLs of a host is one finding. Empty input
// is an empty report, as nuclei writes nothing when nothing matched.
func parseNuclei(data []byte) ([]findings.Finding, error) {
	b := trimLeft(data)
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != '[' && b[0] != '{' {
		return nil, malformed("nuclei", "neither a JSON array nor JSON Lines", nil)
	}
	// Results are decoded one at a time, and a finding is built only for
	// a new key, so a large report of repeats stays cheap.
	dd := newDedup()
	d := json.NewDecoder(bytes.NewReader(b))
	array := b[0] == '['
	if array {
		if _, err := d.Token(); err != nil {
			return nil, jsonError("nuclei", err)
		}
	}
	for n := 1; ; n++ {
		if array && !d.More() {
			break
		}
		var it nucleiItem
		if err := d.Decode(&it); err != nil {
			if !array && errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, jsonError("nuclei", fmt.Errorf("result %d: %w", n, err))
		}
		if it.Info == nil {
			return nil, malformed("nuclei", fmt.Sprintf("result %d has no info object", n), nil)
		}
		k := nucleiKeyOf(&it)
		if !dd.dup(k.key, k.matched) {
			dd.add(k.key, nucleiFinding(&it, &k), "")
		}
	}
	if array {
		// The closing bracket, then nothing but whitespace.
		if tok, err := d.Token(); err != nil || tok != json.Delim(']') {
			return nil, malformed("nuclei", "invalid JSON", fmt.Errorf("array not closed: %v", err))
		}
		if _, err := d.Token(); !errors.Is(err, io.EOF) {
			return nil, malformed("nuclei", "invalid JSON", errors.New("data after the top-level array"))
		}
	}
	return dd.result(), nil
}

// nucleiKey holds what DefectDojo reads before de-duplicating.
type nucleiKey struct {
	templateID, matched, matcher string
	scheme, host                 string
	port                         int
	key                          string
}

func nucleiKeyOf(it *nucleiItem) nucleiKey {
	var k nucleiKey
	// item.get("templateID", item.get("template-id", "")): the v2 key
	// wins when present.
	k.templateID = it.TemplateIDDash.s
	if it.TemplateID.set {
		k.templateID = it.TemplateID.s
	}
	k.matched = it.MatchedAt.s
	if it.Matched.set {
		k.matched = it.Matched.s
	}
	k.matcher = it.MatcherName.s
	if !it.MatcherName.set {
		k.matcher = it.MatcherNameV2.s
	}
	k.scheme, k.host, k.port = uriParts(k.matched)
	if k.host == "" {
		// DefectDojo fails on a result without a matched location; the
		// scanned host is the next best place.
		_, k.host, _ = uriParts(it.Host.s)
	}
	// DefectDojo hashes template_id + type + matcher + endpoint.host.
	k.key = strings.Join([]string{k.templateID, it.Type.s, k.matcher, k.host}, "\x00")
	return k
}

func nucleiFinding(it *nucleiItem, k *nucleiKey) findings.Finding {
	info := it.Info
	templateID, matched, matcher := k.templateID, k.matched, k.matcher
	extracted := it.Extracted
	if len(extracted) == 0 {
		extracted = it.ExtractedV2
	}

	host, port := k.host, k.port
	url := ""
	if k.scheme != "" {
		url = strings.TrimSpace(matched)
	}
	if port == 0 {
		port = parsePort(it.Port.s)
	}

	var desc textBuilder
	desc.para(info.Description.s)
	if len(extracted) > 0 {
		desc.para("Results:\n" + strings.Join(extracted, "\n"))
	}
	var meta textBuilder
	meta.kv("Template", templateID)
	meta.kv("Template path", it.TemplatePath.s)
	meta.kv("Type", it.Type.s)
	meta.kv("Matcher", matcher)
	meta.kv("Matched at", matched)
	meta.kv("Host", it.Host.s)
	meta.kv("IP", it.IP.s)
	meta.kv("Tags", strings.Join(info.Tags, ", "))
	desc.para(meta.String())

	var ev textBuilder
	ev.kv("Matched at", matched)
	if len(extracted) > 0 {
		ev.kv("Extracted", strings.Join(extracted, ", "))
	}
	if it.CurlCommand.s != "" {
		ev.para("curl command to reproduce the request:\n" + it.CurlCommand.s)
	}

	rule := templateID
	if matcher != "" {
		rule += ":" + matcher
	}
	title := info.Name.s
	if strings.TrimSpace(title) == "" {
		title = templateID
	}
	f := findings.Finding{
		Title:       title,
		Severity:    nucleiSeverity(info.Severity.s),
		Component:   matcher,
		Host:        host,
		Port:        port,
		URL:         url,
		RuleID:      rule,
		Description: desc.String(),
		Remediation: info.Remediation.s,
		Evidence:    ev.String(),
	}
	for _, r := range info.Reference {
		f.References = append(f.References, splitLines(r)...)
	}
	if c := info.Classification; c != nil {
		for _, id := range c.CVEID {
			for _, p := range strings.Split(id, ",") {
				if p = strings.TrimSpace(p); p != "" {
					f.CVEs = append(f.CVEs, strings.ToUpper(p))
				}
			}
		}
		f.CWEs = parseCWEs(c.CWEID)
		f.CVSSVector = c.CVSSMetrics.s
		if s, ok := c.CVSSScore.float(); ok {
			f.CVSSScore = s
		}
	}
	return f
}
