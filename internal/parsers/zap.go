package parsers

import (
	"encoding/xml"
	"fmt"
	"html"
	"strconv"
	"strings"

	"github.com/secureops/secureops/internal/findings"
)

type zapSite struct {
	Name   string     `xml:"name,attr"`
	Host   string     `xml:"host,attr"`
	Port   string     `xml:"port,attr"`
	SSL    string     `xml:"ssl,attr"`
	Alerts []zapAlert `xml:"alerts>alertitem"`
}

type zapAlert struct {
	PluginID   string        `xml:"pluginid"`
	AlertRef   string        `xml:"alertRef"`
	Alert      string        `xml:"alert"`
	Name       string        `xml:"name"`
	RiskCode   string        `xml:"riskcode"`
	Confidence string        `xml:"confidence"`
	RiskDesc   string        `xml:"riskdesc"`
	Desc       string        `xml:"desc"`
	Instances  []zapInstance `xml:"instances>instance"`
	Count      string        `xml:"count"`
	Solution   string        `xml:"solution"`
	OtherInfo  string        `xml:"otherinfo"`
	Reference  string        `xml:"reference"`
	CWEID      string        `xml:"cweid"`
	WASCID     string        `xml:"wascid"`
	// ZAP before 2.5 put a single instance's fields on the alert itself.
	URI      string `xml:"uri"`
	Param    string `xml:"param"`
	Attack   string `xml:"attack"`
	Evidence string `xml:"evidence"`
}

type zapInstance struct {
	URI       string `xml:"uri"`
	Method    string `xml:"method"`
	Param     string `xml:"param"`
	Attack    string `xml:"attack"`
	Evidence  string `xml:"evidence"`
	OtherInfo string `xml:"otherinfo"`
}

// zapRisk is DefectDojo's MAPPING_SEVERITY; ZAP has no critical.
var zapRisk = map[string]findings.Severity{
	"0": findings.SeverityInfo,
	"1": findings.SeverityLow,
	"2": findings.SeverityMedium,
	"3": findings.SeverityHigh,
}

// parseZAP follows dojo/tools/zap/parser.py: every alertitem of every site
// is one finding, with no de-duplication; its instances are the finding's
// endpoints (query and fragment dropped), and riskcode 0–3 maps to
// Info/Low/Medium/High.
func parseZAP(data []byte) ([]findings.Finding, error) {
	d := newXMLDecoder(trimLeft(data))
	root, err := xmlRoot(d)
	if err != nil {
		return nil, malformed("zap", "invalid XML", err)
	}
	if root.Name.Local != "OWASPZAPReport" {
		return nil, malformed("zap", fmt.Sprintf("root element is <%s>, want <OWASPZAPReport>", root.Name.Local), nil)
	}
	var out []findings.Finding
	err = xmlChildren(d, func(se xml.StartElement) error {
		if se.Name.Local != "site" {
			return d.Skip()
		}
		var s zapSite
		if err := d.DecodeElement(&s, &se); err != nil {
			return err
		}
		for i := range s.Alerts {
			out = append(out, zapFinding(&s, &s.Alerts[i]))
		}
		return nil
	})
	if err != nil {
		return nil, malformed("zap", "invalid XML", err)
	}
	return out, nil
}

func zapFinding(s *zapSite, a *zapAlert) findings.Finding {
	title := a.Alert
	if strings.TrimSpace(title) == "" {
		title = a.Name
	}
	sev, ok := zapRisk[strings.TrimSpace(a.RiskCode)]
	if !ok {
		// riskdesc reads "Medium (High)": risk, then confidence.
		sev = findings.ParseSeverity(strings.Fields(a.RiskDesc + " info")[0])
	}
	insts := a.Instances
	if len(insts) == 0 && strings.TrimSpace(a.URI) != "" {
		insts = []zapInstance{{URI: a.URI, Param: a.Param, Attack: a.Attack, Evidence: a.Evidence}}
	}

	var uri string
	var locations []string
	seen := map[string]bool{}
	for _, in := range insts {
		// DefectDojo unescapes once more: some ZAP versions double-escape.
		u := strings.TrimSpace(html.UnescapeString(in.URI))
		if u == "" {
			continue
		}
		if uri == "" {
			uri = u
		}
		if l := strings.TrimSpace(in.Method + " " + u); !seen[l] {
			seen[l] = true
			locations = append(locations, l)
		}
	}
	_, host, port := uriParts(uri)
	if host == "" {
		host = s.Host
	}
	if port == 0 {
		port = parsePort(s.Port)
	}

	var desc textBuilder
	desc.para(htmlToText(a.Desc))
	if oi := htmlToText(a.OtherInfo); oi != "" {
		desc.para("Other info:\n" + oi)
	}
	desc.kv("Site", s.Name)
	desc.kv("Risk", a.RiskDesc)
	desc.kv("Plugin", a.PluginID)
	if w := strings.TrimSpace(a.WASCID); w != "" && w != "0" && w != "-1" {
		desc.kv("WASC", "WASC-"+w)
	}
	desc.kv("Instances", strconv.Itoa(len(insts)))
	const maxLocations = 50
	for i, l := range locations {
		if i == maxLocations {
			desc.kv("Also at", fmt.Sprintf("%d more", len(locations)-maxLocations))
			break
		}
		if i > 0 {
			desc.kv("Also at", l)
		}
	}

	var ev textBuilder
	if len(insts) > 0 {
		in := insts[0]
		ev.kv("Request", strings.TrimSpace(in.Method+" "+in.URI))
		ev.kv("Parameter", in.Param)
		ev.kv("Attack", in.Attack)
		ev.kv("Evidence", in.Evidence)
		ev.kv("Other info", htmlToText(in.OtherInfo))
	}

	f := findings.Finding{
		Title:       title,
		Severity:    sev,
		Host:        host,
		Port:        port,
		URL:         uri,
		RuleID:      strings.TrimSpace(a.PluginID),
		Description: desc.String(),
		Remediation: htmlToText(a.Solution),
		References:  splitLines(htmlToText(a.Reference)),
		Evidence:    ev.String(),
	}
	if port > 0 {
		f.Protocol = "tcp"
	}
	// DefectDojo takes cweid only when it is all digits; ZAP writes -1
	// (and sometimes 0) for "no CWE".
	if c := strings.TrimSpace(a.CWEID); isDigits(c) {
		if n, err := strconv.Atoi(c); err == nil && n > 0 {
			f.CWEs = []int{n}
		}
	}
	if w := strings.TrimSpace(a.WASCID); isDigits(w) && w != "0" {
		f.References = append(f.References, "WASC-"+w)
	}
	return f
}
