package parsers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/secureops/secureops/internal/findings"
)

type trivyReport struct {
	SchemaVersion     jstr                      `json:"SchemaVersion"`
	ArtifactName      jstr                      `json:"ArtifactName"`
	ClusterName       jstr                      `json:"ClusterName"`
	Results           objList[trivyResult]      `json:"Results"`
	Vulnerabilities   objList[trivyK8sResource] `json:"Vulnerabilities"`
	Misconfigurations objList[trivyK8sResource] `json:"Misconfigurations"`
	Resources         objList[trivyK8sResource] `json:"Resources"`
}

type trivyK8sResource struct {
	Namespace jstr                 `json:"Namespace"`
	Kind      jstr                 `json:"Kind"`
	Name      jstr                 `json:"Name"`
	Results   objList[trivyResult] `json:"Results"`
}

type trivyResult struct {
	Target            jstr                  `json:"Target"`
	Class             jstr                  `json:"Class"`
	Type              jstr                  `json:"Type"`
	Vulnerabilities   objList[trivyVuln]    `json:"Vulnerabilities"`
	Misconfigurations objList[trivyMisconf] `json:"Misconfigurations"`
	Secrets           objList[trivySecret]  `json:"Secrets"`
	Licenses          objList[trivyLicense] `json:"Licenses"`
}

type trivyVuln struct {
	VulnerabilityID  jstr            `json:"VulnerabilityID"`
	PkgName          jstr            `json:"PkgName"`
	PkgPath          jstr            `json:"PkgPath"`
	InstalledVersion jstr            `json:"InstalledVersion"`
	FixedVersion     jstr            `json:"FixedVersion"`
	Title            jstr            `json:"Title"`
	Description      jstr            `json:"Description"`
	Severity         jstr            `json:"Severity"`
	SeveritySource   jstr            `json:"SeveritySource"`
	PrimaryURL       jstr            `json:"PrimaryURL"`
	CweIDs           jlist           `json:"CweIDs"`
	References       jlist           `json:"References"`
	CVSS             json.RawMessage `json:"CVSS"`
}

type trivyCVSS struct {
	V2Vector jstr `json:"V2Vector"`
	V3Vector jstr `json:"V3Vector"`
	V2Score  jstr `json:"V2Score"`
	V3Score  jstr `json:"V3Score"`
}

type trivyMisconf struct {
	Type          jstr  `json:"Type"`
	ID            jstr  `json:"ID"`
	AVDID         jstr  `json:"AVDID"`
	Title         jstr  `json:"Title"`
	Description   jstr  `json:"Description"`
	Message       jstr  `json:"Message"`
	Namespace     jstr  `json:"Namespace"`
	Resolution    jstr  `json:"Resolution"`
	Severity      jstr  `json:"Severity"`
	PrimaryURL    jstr  `json:"PrimaryURL"`
	Status        jstr  `json:"Status"`
	References    jlist `json:"References"`
	CauseMetadata *struct {
		Resource  jstr `json:"Resource"`
		StartLine jstr `json:"StartLine"`
		EndLine   jstr `json:"EndLine"`
		Code      *struct {
			Lines objList[struct {
				Number  jstr `json:"Number"`
				Content jstr `json:"Content"`
			}] `json:"Lines"`
		} `json:"Code"`
	} `json:"CauseMetadata"`
}

type trivySecret struct {
	RuleID    jstr `json:"RuleID"`
	Category  jstr `json:"Category"`
	Severity  jstr `json:"Severity"`
	Title     jstr `json:"Title"`
	StartLine jstr `json:"StartLine"`
	EndLine   jstr `json:"EndLine"`
	Match     jstr `json:"Match"`
}

type trivyLicense struct {
	Severity   jstr `json:"Severity"`
	Category   jstr `json:"Category"`
	PkgName    jstr `json:"PkgName"`
	FilePath   jstr `json:"FilePath"`
	Name       jstr `json:"Name"`
	Confidence jstr `json:"Confidence"`
	Link       jstr `json:"Link"`
}

// trivySeverity is DefectDojo's TRIVY_SEVERITIES. A vulnerability whose
// Severity is not one of these keys is skipped, as DefectDojo does.
var trivySeverity = map[string]findings.Severity{
	"CRITICAL": findings.SeverityCritical,
	"HIGH":     findings.SeverityHigh,
	"MEDIUM":   findings.SeverityMedium,
	"LOW":      findings.SeverityLow,
	"UNKNOWN":  findings.SeverityInfo,
}

// parseTrivy follows dojo/tools/trivy/parser.py. The legacy format is a
// list of results (or null); schema 2 is an object with SchemaVersion 2
// and Results; the Kubernetes format has ClusterName and per-resource
// results under Vulnerabilities, Misconfigurations and Resources. Every
// vulnerability (with a PkgName and a known severity), misconfiguration
// (whatever its Status), secret and license is one finding; nothing is
// de-duplicated.
func parseTrivy(data []byte) ([]findings.Finding, error) {
	b := bytes.TrimSpace(trimLeft(data))
	if len(b) == 0 {
		return nil, malformed("trivy", "empty report", nil)
	}
	switch b[0] {
	case 'n':
		if !bytes.Equal(b, []byte("null")) {
			return nil, malformed("trivy", "invalid JSON", nil)
		}
		return nil, nil
	case '[':
		var results objList[trivyResult]
		if err := json.Unmarshal(b, &results); err != nil {
			return nil, jsonError("trivy", err)
		}
		return trivyResults(results, ""), nil
	case '{':
	default:
		if !json.Valid(b) {
			return nil, malformed("trivy", "invalid JSON", nil)
		}
		return nil, malformed("trivy", "top-level JSON value is "+jsonKind(b)+", want an object, an array or null", nil)
	}
	var rep trivyReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, jsonError("trivy", err)
	}
	if v, ok := rep.SchemaVersion.float(); ok && v == 2 {
		return trivyResults(rep.Results, ""), nil
	}
	if rep.ClusterName.present() {
		var out []findings.Finding
		for _, group := range [][]trivyK8sResource{rep.Vulnerabilities, rep.Misconfigurations, rep.Resources} {
			for i := range group {
				r := &group[i]
				var parts []string
				for _, p := range []jstr{r.Namespace, r.Kind, r.Name} {
					if p.s != "" {
						parts = append(parts, p.s)
					}
				}
				out = append(out, trivyResults(r.Results, strings.Join(parts, " / "))...)
			}
		}
		return out, nil
	}
	return nil, malformed("trivy", "unsupported report schema (no SchemaVersion 2, no ClusterName)", nil)
}

func trivyResults(results []trivyResult, service string) []findings.Finding {
	var out []findings.Finding
	for i := range results {
		r := &results[i]
		// DefectDojo skips results without a Target key.
		if !r.Target.set {
			continue
		}
		for j := range r.Vulnerabilities {
			if f, ok := trivyVulnFinding(r, &r.Vulnerabilities[j], service); ok {
				out = append(out, f)
			}
		}
		for j := range r.Misconfigurations {
			out = append(out, trivyMisconfFinding(r, &r.Misconfigurations[j], service))
		}
		for j := range r.Secrets {
			out = append(out, trivySecretFinding(r, &r.Secrets[j], service))
		}
		for j := range r.Licenses {
			out = append(out, trivyLicenseFinding(r, &r.Licenses[j], service))
		}
	}
	return out
}

func trivyVulnFinding(r *trivyResult, v *trivyVuln, service string) (findings.Finding, bool) {
	if !v.PkgName.set {
		return findings.Finding{}, false
	}
	cvss := map[string]trivyCVSS{}
	if c := bytes.TrimSpace(v.CVSS); len(c) > 0 && c[0] == '{' {
		// A vendor entry that is not an object is ignored rather than
		// failing the whole report.
		var raw map[string]json.RawMessage
		if json.Unmarshal(c, &raw) == nil {
			for k, m := range raw {
				var cv trivyCVSS
				if json.Unmarshal(m, &cv) == nil {
					cvss[k] = cv
				}
			}
		}
	}

	var sev findings.Severity
	var score float64
	var vector string
	sourced := false
	// DefectDojo's convert_cvss_score uses the same bands as
	// SeverityFromCVSS, 0 included (Info).
	if v.SeveritySource.present() && len(cvss) > 0 {
		if cv, ok := cvss[v.SeveritySource.s]; ok {
			sourced = true
			if s, ok := cv.V3Score.float(); ok {
				sev, score, vector = findings.SeverityFromCVSS(s), s, cv.V3Vector.s
			} else if s, ok := cv.V2Score.float(); ok {
				sev, score, vector = findings.SeverityFromCVSS(s), s, cv.V2Vector.s
			} else {
				sev = findings.SeverityInfo
			}
		}
	}
	if !sourced {
		s, ok := trivySeverity[v.Severity.s]
		if !ok || !v.Severity.present() {
			return findings.Finding{}, false
		}
		sev = s
	}
	if score == 0 {
		score, vector = bestCVSS(cvss)
	}

	id := v.VulnerabilityID.or("0")
	pkg, ver := v.PkgName.s, v.InstalledVersion.s
	target := r.Target.s

	var desc textBuilder
	desc.para(v.Title.s)
	var meta textBuilder
	meta.kv("Target", target)
	meta.kv("Service", service)
	meta.kv("Type", r.Type.s)
	meta.kv("Class", r.Class.s)
	meta.kv("Package", strings.TrimSpace(pkg+" "+ver))
	meta.kv("Package path", v.PkgPath.s)
	meta.kv("Fixed version", v.FixedVersion.s)
	meta.kv("Severity source", v.SeveritySource.s)
	desc.para(meta.String())
	desc.para(v.Description.s)

	f := findings.Finding{
		Title:            fmt.Sprintf("%s %s %s", id, pkg, ver),
		Severity:         sev,
		CWEs:             parseCWEs(v.CweIDs),
		CVSSScore:        score,
		CVSSVector:       vector,
		Component:        pkg,
		Target:           target,
		ComponentVersion: ver,
		RuleID:           id,
		Description:      desc.String(),
		References:       append([]string(nil), v.References...),
		Evidence:         strings.TrimSpace(fmt.Sprintf("%s %s installed in %s", pkg, ver, target)),
	}
	if isCVE(id) {
		f.CVEs = []string{id}
	}
	if v.PrimaryURL.s != "" {
		f.References = append([]string{v.PrimaryURL.s}, f.References...)
	}
	if fv := strings.TrimSpace(v.FixedVersion.s); fv != "" {
		f.Remediation = fmt.Sprintf("Upgrade %s to %s.", pkg, fv)
	}
	return f, true
}

// bestCVSS picks a score for display when the severity did not come from
// one: NVD first, then the vendors in name order so output is stable.
func bestCVSS(cvss map[string]trivyCVSS) (float64, string) {
	keys := make([]string, 0, len(cvss))
	for k := range cvss {
		if k != "nvd" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if _, ok := cvss["nvd"]; ok {
		keys = append([]string{"nvd"}, keys...)
	}
	for _, k := range keys {
		if s, ok := cvss[k].V3Score.float(); ok && s > 0 {
			return s, cvss[k].V3Vector.s
		}
	}
	for _, k := range keys {
		if s, ok := cvss[k].V2Score.float(); ok && s > 0 {
			return s, cvss[k].V2Vector.s
		}
	}
	return 0, ""
}

func trivyMisconfFinding(r *trivyResult, m *trivyMisconf, service string) findings.Finding {
	target := r.Target.s
	component := service
	if component == "" {
		component = target
	}
	var desc textBuilder
	desc.para(m.Description.s)
	var meta textBuilder
	meta.kv("Target", target)
	meta.kv("Service", service)
	meta.kv("Type", m.Type.s)
	meta.kv("Status", m.Status.s)
	meta.kv("Namespace", m.Namespace.s)
	desc.para(meta.String())

	var ev textBuilder
	ev.kv("Message", m.Message.s)
	if cm := m.CauseMetadata; cm != nil {
		ev.kv("Resource", cm.Resource.s)
		if cm.StartLine.s != "" {
			ev.kv("Lines", strings.Trim(cm.StartLine.s+"-"+cm.EndLine.s, "-"))
		}
		if cm.Code != nil && len(cm.Code.Lines) > 0 {
			var code strings.Builder
			for _, l := range cm.Code.Lines {
				code.WriteString(l.Number.s)
				code.WriteByte('\t')
				code.WriteString(l.Content.s)
				code.WriteByte('\n')
			}
			ev.para(code.String())
		}
	}
	rule := m.ID.s
	if rule == "" {
		rule = m.AVDID.s
	}
	f := findings.Finding{
		Title:       fmt.Sprintf("%s - %s", m.ID.s, m.Title.s),
		Severity:    findings.ParseSeverity(m.Severity.s),
		Component:   component,
		Target:      target,
		RuleID:      rule,
		Description: desc.String(),
		Remediation: m.Resolution.s,
		Evidence:    ev.String(),
		References:  append([]string(nil), m.References...),
	}
	if m.PrimaryURL.s != "" {
		f.References = append([]string{m.PrimaryURL.s}, f.References...)
	}
	return f
}

func trivySecretFinding(r *trivyResult, s *trivySecret, service string) findings.Finding {
	target := r.Target.s
	var desc textBuilder
	desc.kv("Secret", s.Title.s)
	desc.kv("Category", s.Category.s)
	desc.kv("File", target)
	desc.kv("Service", service)
	if s.StartLine.s != "" {
		desc.kv("Lines", strings.Trim(s.StartLine.s+"-"+s.EndLine.s, "-"))
	}
	var ev textBuilder
	ev.kv("Match", s.Match.s)
	if n, err := strconv.Atoi(s.StartLine.s); err == nil && n > 0 {
		ev.kv("Location", target+":"+s.StartLine.s)
	}
	return findings.Finding{
		Title:       fmt.Sprintf("Secret detected in %s - %s", target, s.Title.s),
		Severity:    findings.ParseSeverity(s.Severity.s),
		Component:   target,
		RuleID:      s.RuleID.s,
		Description: desc.String(),
		Remediation: "Remove the secret from the artifact and rotate it.",
		Evidence:    ev.String(),
	}
}

func trivyLicenseFinding(r *trivyResult, l *trivyLicense, service string) findings.Finding {
	target := r.Target.s
	var desc textBuilder
	desc.kv("License", l.Name.s)
	desc.kv("Category", l.Category.s)
	desc.kv("Package", l.PkgName.s)
	desc.kv("File", l.FilePath.s)
	desc.kv("Confidence", l.Confidence.s)
	desc.kv("Target", target)
	desc.kv("Service", service)
	component := l.PkgName.s
	if component == "" {
		component = l.FilePath.s
	}
	f := findings.Finding{
		Title:       fmt.Sprintf("License detected in %s - %s", target, l.Name.s),
		Severity:    findings.ParseSeverity(l.Severity.s),
		Component:   component,
		RuleID:      "license:" + l.Name.s,
		Description: desc.String(),
	}
	if l.Link.s != "" {
		f.References = []string{l.Link.s}
	}
	return f
}
