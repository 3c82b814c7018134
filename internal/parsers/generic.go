package parsers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/secureops/secureops/internal/findings"
)

type genericReport struct {
	Name     jstr            `json:"name"`
	Type     jstr            `json:"type"`
	Version  jstr            `json:"version"`
	Findings json.RawMessage `json:"findings"`
}

type genericFinding struct {
	Title             jstr            `json:"title"`
	Severity          jstr            `json:"severity"`
	Description       jstr            `json:"description"`
	CVE               jstr            `json:"cve"`
	VulnerabilityIDs  json.RawMessage `json:"vulnerability_ids"`
	CWE               jstr            `json:"cwe"`
	CVSSv3            jstr            `json:"cvssv3"`
	CVSSv3Score       jstr            `json:"cvssv3_score"`
	ComponentName     jstr            `json:"component_name"`
	ComponentVersion  jstr            `json:"component_version"`
	FilePath          jstr            `json:"file_path"`
	Line              jstr            `json:"line"`
	Mitigation        jstr            `json:"mitigation"`
	Impact            jstr            `json:"impact"`
	StepsToReproduce  jstr            `json:"steps_to_reproduce"`
	References        jstr            `json:"references"`
	Param             jstr            `json:"param"`
	Payload           jstr            `json:"payload"`
	UniqueIDFromTool  jstr            `json:"unique_id_from_tool"`
	VulnIDFromTool    jstr            `json:"vuln_id_from_tool"`
	Service           jstr            `json:"service"`
	Endpoints         json.RawMessage `json:"endpoints"`
	Tool              jstr            `json:"tool"`
	Scanner           jstr            `json:"scanner"`
	SeverityJustified jstr            `json:"severity_justification"`
}

type genericEndpoint struct {
	Protocol jstr `json:"protocol"`
	UserInfo jstr `json:"userinfo"`
	Host     jstr `json:"host"`
	Port     jstr `json:"port"`
	Path     jstr `json:"path"`
	Query    jstr `json:"query"`
	Fragment jstr `json:"fragment"`
}

// genericSeverity is the scale DefectDojo's Finding accepts.
var genericSeverity = map[string]findings.Severity{
	"critical": findings.SeverityCritical,
	"high":     findings.SeverityHigh,
	"medium":   findings.SeverityMedium,
	"low":      findings.SeverityLow,
	"info":     findings.SeverityInfo,
}

// parseGeneric reads DefectDojo's "Generic Findings Import" JSON
// (dojo/tools/generic/json_parser.py): one finding per element of
// "findings", no de-duplication; title, severity and description are
// required, as there. Unlike DefectDojo, keys outside its allow-list are
// ignored rather than rejected, so exports carrying extra metadata still
// import. The scanner name is the finding's own "tool"/"scanner" if given,
// else the report's "name" (DefectDojo's test name, i.e. the tool), else
// its "type", else "generic".
func parseGeneric(data []byte) ([]findings.Finding, error) {
	b := trimLeft(data)
	if len(b) == 0 {
		return nil, malformed("generic", "empty report", nil)
	}
	if b[0] != '{' {
		if !json.Valid(b) {
			return nil, malformed("generic", "invalid JSON", nil)
		}
		return nil, malformed("generic", "top-level JSON value is "+jsonKind(b)+", want an object", nil)
	}
	var rep genericReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, jsonError("generic", err)
	}
	raw := bytes.TrimSpace(rep.Findings)
	if len(raw) == 0 {
		return nil, nil
	}
	if raw[0] != '[' {
		return nil, malformed("generic", `"findings" is `+jsonKind(raw)+", want an array", nil)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, jsonError("generic", err)
	}
	tool := "generic"
	for _, t := range []jstr{rep.Type, rep.Name} {
		if s := strings.TrimSpace(t.s); s != "" {
			tool = s
		}
	}
	out := make([]findings.Finding, 0, len(items))
	for i, r := range items {
		f, err := genericItem(r, i+1, tool)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func genericItem(r json.RawMessage, n int, tool string) (findings.Finding, error) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || r[0] != '{' {
		return findings.Finding{}, malformed("generic", fmt.Sprintf("finding %d is %s, want an object", n, jsonKind(r)), nil)
	}
	var g genericFinding
	if err := json.Unmarshal(r, &g); err != nil {
		return findings.Finding{}, jsonError("generic", fmt.Errorf("finding %d: %w", n, err))
	}
	var missing []string
	for _, k := range []struct {
		name string
		v    jstr
	}{{"description", g.Description}, {"severity", g.Severity}, {"title", g.Title}} {
		if !k.v.set {
			missing = append(missing, k.name)
		}
	}
	if len(missing) > 0 {
		return findings.Finding{}, malformed("generic", fmt.Sprintf("finding %d: required fields are missing: %s", n, strings.Join(missing, ", ")), nil)
	}
	if strings.TrimSpace(g.Title.s) == "" {
		return findings.Finding{}, malformed("generic", fmt.Sprintf("finding %d: title is empty", n), nil)
	}
	sev, ok := genericSeverity[strings.ToLower(strings.TrimSpace(g.Severity.s))]
	if !ok {
		return findings.Finding{}, malformed("generic", fmt.Sprintf("finding %d: severity %q is not one of Critical, High, Medium, Low, Info", n, g.Severity.s), nil)
	}

	scanner := tool
	for _, t := range []jstr{g.Scanner, g.Tool} {
		if s := strings.TrimSpace(t.s); s != "" {
			scanner = s
		}
	}

	f := findings.Finding{
		Title:            g.Title.s,
		Severity:         sev,
		Scanner:          scanner,
		CVSSVector:       g.CVSSv3.s,
		Component:        g.ComponentName.s,
		ComponentVersion: g.ComponentVersion.s,
		Remediation:      g.Mitigation.s,
		References:       splitLines(g.References.s),
	}
	if s, ok := g.CVSSv3Score.float(); ok {
		f.CVSSScore = s
	}
	f.CWEs = parseCWEs([]string{g.CWE.s})

	var otherIDs []string
	ids := []string{g.CVE.s}
	ids = append(ids, genericVulnIDs(g.VulnerabilityIDs)...)
	for _, id := range ids {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		if isCVE(id) {
			f.CVEs = append(f.CVEs, id)
		} else {
			otherIDs = append(otherIDs, id)
		}
	}

	f.RuleID = strings.TrimSpace(g.VulnIDFromTool.s)
	if f.RuleID == "" && len(otherIDs) > 0 {
		f.RuleID = otherIDs[0]
	}

	eps := genericEndpoints(g.Endpoints)
	if len(eps) > 0 {
		f.URL, f.Host, f.Port, f.Protocol = eps[0].url, eps[0].host, eps[0].port, eps[0].proto
	}

	var desc textBuilder
	desc.para(g.Description.s)
	var meta textBuilder
	meta.kv("Impact", g.Impact.s)
	meta.kv("Severity justification", g.SeverityJustified.s)
	meta.kv("Other vulnerability ids", strings.Join(otherIDs, ", "))
	meta.kv("Unique id", g.UniqueIDFromTool.s)
	meta.kv("Service", g.Service.s)
	if len(eps) > 1 {
		var more []string
		for _, e := range eps[1:] {
			more = append(more, e.text)
		}
		meta.kv("Other endpoints", strings.Join(more, ", "))
	}
	desc.para(meta.String())
	f.Description = desc.String()

	var ev textBuilder
	if g.FilePath.s != "" {
		f.Target = g.FilePath.s
		loc := g.FilePath.s
		if g.Line.present() && g.Line.s != "" && g.Line.s != "0" {
			loc += ":" + g.Line.s
		}
		ev.kv("Location", loc)
	}
	ev.kv("Parameter", g.Param.s)
	ev.kv("Payload", g.Payload.s)
	ev.para(g.StepsToReproduce.s)
	f.Evidence = ev.String()
	return f, nil
}

// genericVulnIDs reads vulnerability_ids, which DefectDojo documents as a
// list of {"vulnerability_id": "..."} objects; plain strings are accepted.
func genericVulnIDs(raw json.RawMessage) []string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var out []string
	for _, it := range items {
		it = bytes.TrimSpace(it)
		if len(it) > 0 && it[0] == '{' {
			var o struct {
				ID jstr `json:"vulnerability_id"`
			}
			if json.Unmarshal(it, &o) == nil && o.ID.s != "" {
				out = append(out, o.ID.s)
			}
			continue
		}
		var s jstr
		if s.UnmarshalJSON(it) == nil && s.present() {
			out = append(out, s.s)
		}
	}
	return out
}

type genericEP struct {
	url, host, proto, text string
	port                   int
}

// genericEndpoints reads "endpoints": URI strings, bare "host[:port]"
// strings, or DefectDojo Endpoint objects. A web scheme makes a URL; a
// transport protocol stays in Protocol.
func genericEndpoints(raw json.RawMessage) []genericEP {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var out []genericEP
	for _, it := range items {
		it = bytes.TrimSpace(it)
		var ep genericEP
		if len(it) > 0 && it[0] == '{' {
			var o genericEndpoint
			if json.Unmarshal(it, &o) != nil {
				continue
			}
			scheme := strings.ToLower(strings.TrimSpace(o.Protocol.s))
			ep.host = strings.TrimSpace(o.Host.s)
			ep.port = parsePort(o.Port.s)
			switch scheme {
			case "", "tcp", "udp", "sctp":
				ep.proto = scheme
				ep.text = ep.host
				if ep.port > 0 {
					ep.text += ":" + strconv.Itoa(ep.port)
				}
			default:
				var u strings.Builder
				u.WriteString(scheme + "://")
				if o.UserInfo.s != "" {
					u.WriteString(o.UserInfo.s + "@")
				}
				u.WriteString(ep.host)
				if ep.port > 0 {
					u.WriteString(":" + strconv.Itoa(ep.port))
				}
				if p := o.Path.s; p != "" {
					if !strings.HasPrefix(p, "/") {
						u.WriteByte('/')
					}
					u.WriteString(p)
				}
				if o.Query.s != "" {
					u.WriteString("?" + o.Query.s)
				}
				if o.Fragment.s != "" {
					u.WriteString("#" + o.Fragment.s)
				}
				ep.url = u.String()
				ep.text = ep.url
				if ep.port == 0 {
					ep.port = defaultPort(scheme)
				}
			}
		} else {
			var s jstr
			if s.UnmarshalJSON(it) != nil || !s.present() || strings.TrimSpace(s.s) == "" {
				continue
			}
			v := strings.TrimSpace(s.s)
			scheme, host, port := uriParts(v)
			ep.host, ep.port, ep.text = host, port, v
			if scheme != "" {
				ep.url = v
			}
		}
		if ep.host == "" && ep.url == "" {
			continue
		}
		if ep.port > 0 && ep.proto == "" {
			ep.proto = "tcp"
		}
		out = append(out, ep)
	}
	return out
}
